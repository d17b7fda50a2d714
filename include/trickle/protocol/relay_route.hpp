#pragma once
// Which relay route a request path names: `{base}{channel}`, `{base}{channel}/{seq}` or
// `{base}{channel}/next`. Kept apart from the server so it can be tested (and fuzzed) alone.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trickle::protocol {

struct RelayRoute {
  enum class Kind { channel, segment, next } kind;
  std::string channel;
  std::int64_t seq = 0;
  bool seq_valid = false;  // a segment route whose seq is not an integer is answered 400
};

// "/" + base + "/", however the base was written ("", "live", "/live/").
std::string normalise_base_path(std::string base);

// A seq as go-livepeer's strconv.Atoi reads it: an optional sign and decimal digits, nothing else.
std::optional<std::int64_t> parse_seq(std::string_view text);

// nullopt: not a relay route (outside the base, an empty channel, or more than two segments).
std::optional<RelayRoute> parse_relay_route(std::string_view path, std::string_view normalised_base);

}  // namespace trickle::protocol
