#include "trickle/protocol/relay_route.hpp"

#include <charconv>

namespace trickle::protocol {

std::string normalise_base_path(std::string base) {
  if (base.empty() || base.front() != '/') base.insert(base.begin(), '/');
  if (base.back() != '/') base.push_back('/');
  return base;
}

std::optional<std::int64_t> parse_seq(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // from_chars takes no '+', which Atoi does.
  std::string_view digits = text.front() == '+' ? text.substr(1) : text;
  if (digits.empty() || (text.front() == '+' && (digits.front() == '-' || digits.front() == '+'))) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::optional<RelayRoute> parse_relay_route(std::string_view path, std::string_view base) {
  if (path.substr(0, base.size()) != base) return std::nullopt;
  std::string_view rest = path.substr(base.size());
  auto slash = rest.find('/');
  RelayRoute route{RelayRoute::Kind::channel, std::string(rest.substr(0, slash))};
  if (route.channel.empty()) return std::nullopt;
  if (slash == std::string_view::npos) return route;
  std::string_view tail = rest.substr(slash + 1);
  if (tail.find('/') != std::string_view::npos) return std::nullopt;
  if (tail == "next") {
    route.kind = RelayRoute::Kind::next;
    return route;
  }
  route.kind = RelayRoute::Kind::segment;
  if (auto seq = parse_seq(tail)) {
    route.seq = *seq;
    route.seq_valid = true;
  }
  return route;
}

}  // namespace trickle::protocol
