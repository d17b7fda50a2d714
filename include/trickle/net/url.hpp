#pragma once
// The parts of an http:// URL the clients need (no TLS: trickle peers here speak plain HTTP).

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace trickle::net {

struct Url {
  std::string host;       // without brackets for IPv6
  std::uint16_t port = 80;
  std::string target;     // path + query, at least "/"

  static tl::expected<Url, std::string> parse(std::string_view text);

  // "host:port" as the Host header wants it.
  std::string authority() const;
  std::string to_string() const;
  // This URL with `suffix` appended to the path by plain concatenation, as PyTrickle does.
  Url with_path_suffix(std::string_view suffix) const;
};

}  // namespace trickle::net
