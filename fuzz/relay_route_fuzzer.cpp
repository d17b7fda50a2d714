// The relay's reading of a request path: any path, any base. It must never crash, and what it
// finds must be consistent: a route's channel is one non-empty path segment under the base, and a
// valid seq prints back to the text it was read from (up to a leading '+' and leading zeros).

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "trickle/protocol/relay_route.hpp"

using namespace trickle::protocol;

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // "base\npath": the base as an operator would write it, the path as a client sends it.
  auto newline = text.find('\n');
  std::string base = normalise_base_path(std::string(newline == std::string_view::npos ? "" : text.substr(0, newline)));
  std::string_view path = newline == std::string_view::npos ? text : text.substr(newline + 1);
  check(base.front() == '/' && base.back() == '/');
  auto route = parse_relay_route(path, base);
  if (!route) return 0;
  check(path.substr(0, base.size()) == base);
  check(!route->channel.empty() && route->channel.find('/') == std::string::npos);
  if (route->kind == RelayRoute::Kind::segment && route->seq_valid) {
    auto tail = path.substr(path.rfind('/') + 1);
    auto again = parse_seq(std::to_string(route->seq));
    check(again && *again == route->seq);
    check(!tail.empty());
  }
  parse_seq(text);
  return 0;
}
