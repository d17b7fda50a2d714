#pragma once
// For suites that talk HTTP with our client directly.

#include <cstdint>
#include <vector>

#include "test_support.hpp"
#include "trickle/net/http_client.hpp"

namespace trickle::test {

// Reads a response body to its end; fails the test on any error.
inline net::awaitable<std::vector<std::uint8_t>> read_body(net::HttpClientConnection& client) {
  using namespace std::chrono_literals;
  std::vector<std::uint8_t> out;
  for (;;) {
    auto piece = co_await client.read_body(5s);
    BOOST_REQUIRE_MESSAGE(piece, "reading the body: " << error_of(piece));
    if (!*piece) co_return out;
    out.insert(out.end(), (*piece)->begin(), (*piece)->end());
  }
}

}  // namespace trickle::test
