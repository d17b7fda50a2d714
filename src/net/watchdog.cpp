#include "trickle/net/watchdog.hpp"

#include "trickle/net/spawn.hpp"

namespace trickle::net {

struct Watchdog::State {
  explicit State(const Executor& ex, std::function<void()> cb)
      : timer(ex, Clock::time_point::max()), on_expire(std::move(cb)) {}
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  std::function<void()> on_expire;
  bool expired = false;
  bool stopped = false;
  bool running = false;
};

Watchdog::Watchdog(const Executor& executor, std::function<void()> on_expire)
    : state_(std::make_shared<State>(executor, std::move(on_expire))) {}

Watchdog::~Watchdog() {
  state_->stopped = true;
  state_->on_expire = nullptr;
  state_->timer.cancel();
}

void Watchdog::expires_after(Clock::duration d) {
  auto& s = *state_;
  if (s.expired || s.stopped) return;
  s.deadline = deadline_after(d);
  if (!s.running) {
    s.running = true;
    s.timer.expires_at(s.deadline);
    spawn(s.timer.get_executor(), run(state_), "a connection's deadline");
  } else if (s.deadline < s.timer.expiry()) {
    s.timer.expires_at(s.deadline);  // wakes the loop, which re-waits on the earlier deadline
  }
  // A later deadline needs no timer operation: the loop notices when the old one fires.
}

void Watchdog::disarm() { state_->deadline = Clock::time_point::max(); }

bool Watchdog::expired() const { return state_->expired; }

awaitable<void> Watchdog::run(std::shared_ptr<State> state) {
  for (;;) {
    co_await state->timer.async_wait(use_nothrow);  // aborted or expired: both mean look again
    if (state->stopped) co_return;
    if (Clock::now() >= state->deadline) {
      state->expired = true;
      if (state->on_expire) state->on_expire();
      co_return;
    }
    state->timer.expires_at(state->deadline);
  }
}

}  // namespace trickle::net
