#include "trickle/net/url.hpp"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace trickle::net {

// Schemes are case-insensitive (RFC 3986 3.1): "HTTPS://" is https.
static bool starts_with_scheme(std::string_view text, std::string_view scheme) {
  if (text.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != scheme[i]) return false;
  return true;
}

tl::expected<Url, std::string> Url::parse(std::string_view text) {
  Url url;
  std::string_view rest;
  if (starts_with_scheme(text, "http://")) {
    rest = text.substr(7);
  } else if (starts_with_scheme(text, "https://")) {
    rest = text.substr(8);
    url.secure = true;
    url.port = 443;
  } else {
    if (text.find("://") != std::string_view::npos)
      return tl::unexpected(
          fmt::format("unsupported URL scheme in '{}' (only http:// and https:// are supported)", text));
    return tl::unexpected(fmt::format("'{}' is not an http:// or https:// URL", text));
  }
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target.insert(url.target.begin(), '/');
  if (authority.empty()) return tl::unexpected(fmt::format("no host in URL '{}'", text));
  if (authority.find('@') != std::string_view::npos)
    return tl::unexpected(fmt::format("credentials in URLs are not supported: '{}'", text));

  std::string_view host = authority, port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return tl::unexpected(fmt::format("bad IPv6 host in '{}'", text));
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return tl::unexpected(fmt::format("bad authority in '{}'", text));
      port = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return tl::unexpected(fmt::format("no host in URL '{}'", text));
  url.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return tl::unexpected(fmt::format("bad port '{}' in '{}'", port, text));
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

std::string Url::authority() const {
  bool v6 = host.find(':') != std::string::npos;
  return v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::string Url::to_string() const { return fmt::format("{}://{}{}", scheme(), authority(), target); }

Url Url::with_path_suffix(std::string_view suffix) const {
  Url out = *this;
  auto query = out.target.find('?');
  if (query == std::string::npos)
    out.target.append(suffix);
  else
    out.target.insert(query, suffix);
  return out;
}

}  // namespace trickle::net
