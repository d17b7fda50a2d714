#pragma once
// The parts of an http:// or https:// URL the clients need.

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace trickle::net {

struct Url {
  bool secure = false;      // https: TLS over the connection
  std::string host;         // without brackets for IPv6
  std::uint16_t port = 80;  // 443 when https and not given
  std::string target;       // path + query, at least "/"

  static tl::expected<Url, std::string> parse(std::string_view text);

  std::string_view scheme() const { return secure ? "https" : "http"; }
  // "host:port" as the Host header wants it.
  std::string authority() const;
  std::string to_string() const;
  // This URL with `suffix` appended to the path by plain concatenation, as PyTrickle does.
  Url with_path_suffix(std::string_view suffix) const;
};

}  // namespace trickle::net
