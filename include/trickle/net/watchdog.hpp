#pragma once
// A per-connection deadline: arm it before an I/O operation, and if the deadline passes first the
// connection is closed, which completes the pending operation with an error. One timer per
// connection that is re-armed by assignment is far cheaper than a timer per operation on the
// fan-out hot path (Boost.Beast's "expiry" does the same).

#include <functional>
#include <memory>

#include "trickle/net/asio.hpp"

namespace trickle::net {

class Watchdog {
 public:
  Watchdog(const Executor& executor, std::function<void()> on_expire);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void expires_after(Clock::duration d);
  void disarm();
  bool expired() const;

 private:
  struct State;
  static awaitable<void> run(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace trickle::net
