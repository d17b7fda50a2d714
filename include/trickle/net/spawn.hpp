#pragma once
// Starting a coroutine that nobody co_awaits, without losing what it throws. asio::detached
// drops an escaping exception; whoever waits on that coroutine's result (a pending GET, a segment
// being opened, a Python future) would then wait forever. spawn() logs the exception and hands it
// to `on_failure`, which settles whatever the coroutine would have settled.

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "trickle/net/asio.hpp"
#include "trickle/util/text.hpp"

namespace trickle::net {

// The default `on_failure`: nothing waits on the work, the log line is the whole report.
struct NothingWaits {
  void operator()(std::exception_ptr) const {}
};

// Runs `work` (an awaitable<void>, or a callable returning one, which is kept alive until it
// ends, as asio::co_spawn keeps it) on `executor`. An exception escaping it is logged at ERROR
// as "<what> failed: <message>" (`what`: a string literal) and then passed to
// `on_failure(std::exception_ptr)`, on the executor's thread.
// `on_failure` must not throw (it runs as a completion handler: a throw would end the
// io_context's run()).
template <typename Work, typename OnFailure = NothingWaits>
void spawn(const Executor& executor, Work&& work, const char* what, OnFailure on_failure = {}) {
  asio::co_spawn(executor, std::forward<Work>(work),
                 [what, on_failure = std::move(on_failure)](std::exception_ptr error) mutable {
                   if (!error) return;
                   spdlog::error("{} failed: {}", what, util::exception_message(error));
                   on_failure(error);
                 });
}

}  // namespace trickle::net
