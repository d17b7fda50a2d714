#pragma once
// How the trickle clients report failures: the same error kinds PyTrickle's clients pass to their
// error callback, so code ported from PyTrickle can switch on them unchanged.

#include <functional>
#include <string_view>

namespace trickle::protocol {

namespace error_kind {
inline constexpr std::string_view stream_not_found = "stream_not_found";          // 404 on GET
inline constexpr std::string_view max_retries_exceeded = "max_retries_exceeded";  // GET kept failing
inline constexpr std::string_view connection_failed = "connection_failed";        // POST could not connect
inline constexpr std::string_view post_failed = "post_failed";                    // POST answered non-200
inline constexpr std::string_view post_exception = "post_exception";              // POST broke mid-body
}  // namespace error_kind

using ErrorCallback = std::function<void(std::string_view kind, std::string_view message)>;

}  // namespace trickle::protocol
