#pragma once
// The HTTP suites' server: ours on 127.0.0.1 with a free port, plain or TLS, plus the echo
// routes and client helpers the plain and the TLS suites share.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "test_support.hpp"
#include "trickle/net/http_client.hpp"
#include "trickle/net/http_server.hpp"

namespace trickle::test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

inline std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// stop() ends every session before the test's state (which handlers refer to) goes away.
struct TestServer {
  TestServer(net::Executor executor, net::HttpHandler handler, net::HttpLimits limits = {},
             std::optional<net::TlsServerOptions> tls = std::nullopt)
      : server(std::move(executor), std::move(handler), limits) {
    if (tls) {
      auto secured = server.use_tls(*tls);
      BOOST_REQUIRE_MESSAGE(secured, "cannot serve TLS: " << error_of(secured));
    }
    auto endpoint = server.listen("127.0.0.1", 0);
    BOOST_REQUIRE_MESSAGE(endpoint, "cannot listen: " << error_of(endpoint));
    server.start();
  }

  net::Url url(std::string_view target = "/") const {
    net::Url url;
    url.secure = server.secure();
    url.host = "127.0.0.1";
    url.port = server.port();
    url.target = std::string(target);
    return url;
  }

  net::awaitable<void> stop() {
    server.stop();
    bool drained = co_await eventually([this] { return server.connection_count() == 0; });
    BOOST_TEST(drained, "sessions still running after stop(): " << server.connection_count());
  }

  net::HttpServer server;
};

inline net::awaitable<std::unique_ptr<net::HttpClientConnection>> connect(const TestServer& server,
                                                                          net::HttpLimits limits = {}) {
  auto executor = co_await asio::this_coro::executor;
  auto connection = co_await net::HttpClientConnection::connect(executor, server.url(), 5s, limits);
  BOOST_REQUIRE_MESSAGE(connection, "connect: " << error_of(connection));
  co_return std::move(*connection);
}

// Echo routes the tests share:
//   /stream  answers chunked and writes each request piece back as soon as it arrives
//   /whole   reads the whole body, then answers it with a Content-Length
//   /hello   answers "hello"
inline net::awaitable<void> echo_handler(net::ServerRequest& request, net::ServerResponse& response) {
  net::HttpHeaders headers;
  headers.add("Content-Type", "application/octet-stream");
  if (request.path() == "/stream") {
    if (!co_await response.start(200, std::move(headers))) co_return;
    for (;;) {
      auto piece = co_await request.read_body(5s);
      if (!piece) co_return;
      if (!*piece) break;
      if (!co_await response.write(**piece)) co_return;
    }
    co_await response.finish();
  } else if (request.path() == "/whole") {
    auto body = co_await request.read_all(64 * 1024 * 1024, 10s);
    if (!body) co_return;
    co_await response.send(200, std::move(headers), *body);
  } else {
    co_await response.send(200, std::move(headers), "hello");
  }
}

inline net::awaitable<void> send_in_pieces(net::HttpClientConnection& client, const Bytes& data, std::size_t piece) {
  for (std::size_t at = 0; at < data.size(); at += piece) {
    auto n = std::min(piece, data.size() - at);
    auto sent = co_await client.send_body(std::span<const std::uint8_t>(data.data() + at, n));
    BOOST_REQUIRE_MESSAGE(sent, "send_body: " << error_of(sent));
  }
  auto finished = co_await client.finish_body();
  BOOST_REQUIRE(finished);
}

}  // namespace trickle::test
