#pragma once
// Shared by the C++ suites: run a test body written as a coroutine on a fresh io_context, with a
// hard limit so a hang fails the test instead of stalling the run.

#include <chrono>
#include <exception>
#include <functional>

#include <boost/test/unit_test.hpp>

#include "trickle/net/asio.hpp"

namespace trickle::test {

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

}  // namespace trickle::test
