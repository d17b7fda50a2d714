#pragma once
// Shared by the C++ suites: run a test body written as a coroutine on a fresh io_context, with a
// hard limit so a hang fails the test instead of stalling the run.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "trickle/net/async_signal.hpp"

namespace trickle::test {

// Deterministic pseudo-random bytes (a linear congruential generator): failures reproduce.
inline std::vector<std::uint8_t> random_bytes(std::size_t size, std::uint32_t seed) {
  std::vector<std::uint8_t> out(size);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return out;
}

// The error's message of an expected-like result, for failure output ("" when there is none).
template <typename Result>
std::string error_of(const Result& result) {
  return result ? std::string() : result.error().message;
}

inline void run_async(const std::function<net::awaitable<void>()>& body,
                      std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  asio::io_context io(1);
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    done = true;
    error = e;
    io.stop();
  });
  io.run_for(limit);
  if (error) std::rethrow_exception(error);
  BOOST_REQUIRE_MESSAGE(done, "the test coroutine did not finish within " << limit.count() << " ms");
}

// Polls `done` until it holds or `limit` passes (for state only observable by looking).
inline net::awaitable<bool> eventually(std::function<bool()> done,
                                       net::Clock::duration limit = std::chrono::seconds(5)) {
  auto deadline = net::deadline_after(limit);
  while (!done()) {
    if (net::Clock::now() >= deadline) co_return false;
    co_await net::sleep_for(std::chrono::milliseconds(1));
  }
  co_return true;
}

// Runs coroutines concurrently and waits for all of them; the first exception is rethrown.
class TaskGroup {
 public:
  explicit TaskGroup(net::Executor executor) : executor_(std::move(executor)), done_(executor_) {}

  void spawn(net::awaitable<void> task) {
    ++running_;
    asio::co_spawn(executor_, std::move(task), [this](std::exception_ptr e) {
      if (e && !error_) error_ = e;
      --running_;
      done_.notify_all();
    });
  }

  net::awaitable<void> wait() {
    while (running_ > 0) co_await done_.wait();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  net::Executor executor_;
  net::AsyncSignal done_;
  int running_ = 0;
  std::exception_ptr error_;
};

}  // namespace trickle::test
