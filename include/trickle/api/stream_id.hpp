#pragma once

// The X-Stream-Id header that names the stream of a request (docs/many_streams.md): what
// go-livepeer's orchestrator sends, checked before anything else is touched because the id goes
// into logs and status bodies.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace trickle::api {

inline constexpr std::string_view stream_id_header = "X-Stream-Id";
inline constexpr std::size_t max_stream_id_bytes = 128;

// Why `id` cannot name a stream ("Invalid X-Stream-Id: ..."), or nullopt when it can: 1 to 128
// bytes of visible ASCII ('!' to '~'), the same rule as the Python StreamServer's.
inline std::optional<std::string> stream_id_error(std::string_view id) {
  if (id.empty()) return "Invalid X-Stream-Id: it is empty";
  if (id.size() > max_stream_id_bytes) {
    return "Invalid X-Stream-Id: longer than " + std::to_string(max_stream_id_bytes) + " bytes";
  }
  for (const char ch : id) {
    const auto c = static_cast<unsigned char>(ch);  // unsigned: bytes from 0x80 up are refused too
    if (c < '!' || c > '~') {
      return std::string("Invalid X-Stream-Id: only visible ASCII characters (no spaces or control characters)");
    }
  }
  return std::nullopt;
}

}  // namespace trickle::api
