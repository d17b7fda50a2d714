#pragma once
// The Asio pieces the engine uses, in one place, plus the completion tokens we standardise on.

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace trickle::net {

using asio::awaitable;
using asio::use_awaitable;
using Executor = asio::any_io_executor;
using Clock = std::chrono::steady_clock;

// Completion token that hands back (error_code, result...) instead of throwing.
// now + d, saturating: Clock::duration::max() means "no deadline" and must not overflow.
inline Clock::time_point deadline_after(Clock::duration d) {
  auto now = Clock::now();
  return d >= Clock::time_point::max() - now ? Clock::time_point::max() : now + d;
}

inline constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace trickle::net
