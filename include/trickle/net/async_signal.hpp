#pragma once
// Wakes every coroutine waiting on it. The engine runs each io_context on one thread, so a waiter
// that checks its condition and then waits cannot miss a notify (no lost wake-up).

#include <chrono>

#include "trickle/net/asio.hpp"

namespace trickle::net {

class AsyncSignal {
 public:
  explicit AsyncSignal(const Executor& executor) : timer_(executor, Clock::time_point::max()) {}

  // Completes at the next notify_all() (or when the signal is destroyed).
  awaitable<void> wait() {
    auto [ec] = co_await timer_.async_wait(use_nothrow);
    (void)ec;  // operation_aborted is the notification itself
  }

  // Completes at the next notify_all() → true, or after `timeout` → false.
  awaitable<bool> wait_for(Clock::duration timeout);

  void notify_all() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

inline awaitable<bool> AsyncSignal::wait_for(Clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
  auto result = co_await (wait() || deadline.async_wait(use_nothrow));
  co_return result.index() == 0;
}

// Sleeps for `duration`; returns early (false) if the coroutine is cancelled.
inline awaitable<bool> sleep_for(Clock::duration duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  auto [ec] = co_await timer.async_wait(use_nothrow);
  co_return !ec;
}

}  // namespace trickle::net
