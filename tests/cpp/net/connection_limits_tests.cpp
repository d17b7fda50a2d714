// What one peer, or many, can hold of a server: the connection caps (503 and close beyond them)
// and read buffers that grow only while a peer sends fast.

#include <boost/test/unit_test.hpp>

#include "../raw_tcp_client.hpp"
#include "loopback_server.hpp"

using namespace trickle;
using namespace std::chrono_literals;
using net::HttpLimits;
using test::RawTcpClient;

namespace {

// A client that sends half a request head and then nothing: it holds its connection until the
// header timeout.
net::awaitable<std::unique_ptr<RawTcpClient>> half_a_head(std::uint16_t port, std::string_view from = "127.0.0.1") {
  auto client = std::make_unique<RawTcpClient>(co_await asio::this_coro::executor);
  BOOST_REQUIRE(co_await client->connect(port, std::nullopt, from));
  BOOST_REQUIRE(co_await client->send("GET /hello HTTP/1.1\r\nHost: te"));
  co_return client;
}

net::awaitable<int> full_request(std::uint16_t port, std::string_view from = "127.0.0.1") {
  RawTcpClient client(co_await asio::this_coro::executor);
  BOOST_REQUIRE(co_await client.connect(port, std::nullopt, from));
  BOOST_REQUIRE(co_await client.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  co_return co_await client.read_response(5s);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connection_limits)

BOOST_AUTO_TEST_CASE(past_the_connection_cap_a_client_gets_a_503_and_the_rest_are_served) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HttpLimits limits;
    limits.max_connections = 3;
    limits.max_connections_per_client = 0;  // no per-client cap here
    test::TestServer server(ex, test::echo_handler, limits);
    auto port = server.server.port();
    std::vector<std::unique_ptr<RawTcpClient>> holders;
    for (int i = 0; i < 3; ++i) holders.push_back(co_await half_a_head(port));
    BOOST_REQUIRE(co_await test::eventually([&] { return server.server.connection_count() == 3; }));

    RawTcpClient extra(ex);
    BOOST_REQUIRE(co_await extra.connect(port));
    BOOST_TEST(co_await extra.read_response(5s) == 503);
    BOOST_TEST(extra.last_response().find("Too many connections") != std::string::npos);
    BOOST_TEST(co_await extra.read_until_closed(3s));
    BOOST_TEST(server.server.refused_count() == 1u);
    BOOST_TEST(server.server.connection_count() == 3u);  // the refused one never became a session

    // A slot that frees up is taken by the next client, which is served.
    holders.front()->close();
    BOOST_REQUIRE(co_await test::eventually([&] { return server.server.connection_count() == 2; }));
    BOOST_TEST(co_await full_request(port) == 200);
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(one_client_past_its_cap_is_refused_while_others_are_served) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HttpLimits limits;
    limits.max_connections = 100;
    limits.max_connections_per_client = 2;
    test::TestServer server(ex, test::echo_handler, limits);
    auto port = server.server.port();
    std::vector<std::unique_ptr<RawTcpClient>> holders;
    for (int i = 0; i < 2; ++i) holders.push_back(co_await half_a_head(port, "127.0.0.1"));
    BOOST_REQUIRE(co_await test::eventually([&] { return server.server.connection_count() == 2; }));
    BOOST_TEST(co_await full_request(port, "127.0.0.1") == 503);
    BOOST_TEST(co_await full_request(port, "127.0.0.2") == 200);  // another address: its own count
    BOOST_TEST(server.server.refused_count() == 1u);
    holders.clear();
    BOOST_REQUIRE(co_await test::eventually([&] { return server.server.connection_count() == 0; }));
    BOOST_TEST(co_await full_request(port, "127.0.0.1") == 200);
    co_await server.stop();
  });
}

// The read buffer starts at 4 KiB, grows while a body arrives faster than it is read, and is
// given back between messages, so a connection that idles costs little whatever it did before.
BOOST_AUTO_TEST_CASE(read_buffers_grow_for_a_fast_body_and_shrink_between_messages) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::size_t> at_head, largest;
    test::TestServer server(ex,
                            [&](net::ServerRequest& request, net::ServerResponse& response) -> net::awaitable<void> {
                              at_head.push_back(request.connection().read_buffer_size());
                              std::size_t most = 0;
                              for (;;) {
                                auto piece = co_await request.read_body();
                                if (!piece || !*piece) break;
                                most = std::max(most, request.connection().read_buffer_size());
                              }
                              largest.push_back(most);
                              co_await response.send(200, {}, "ok");
                            });
    auto client = co_await test::connect(server);
    const auto body = test::random_bytes(2 * 1024 * 1024, 9);
    for (int i = 0; i < 2; ++i) {
      net::HttpHeaders headers;
      BOOST_REQUIRE(
          co_await client->send_head("POST", "/", std::move(headers), net::BodyMode::content_length, body.size()));
      // The body goes once the handler has seen the head, so the head is read on its own.
      BOOST_REQUIRE(co_await test::eventually([&] { return at_head.size() == std::size_t(i + 1); }));
      BOOST_REQUIRE(co_await client->send_body(body));
      BOOST_REQUIRE(co_await client->finish_body());
      auto head = co_await client->read_response_head(5s);
      BOOST_REQUIRE(head);
      co_await client->read_all(1024, 5s);
    }
    BOOST_REQUIRE_EQUAL(at_head.size(), 2u);
    BOOST_TEST(at_head[0] == 4096u);
    BOOST_TEST(at_head[1] == 4096u);  // given back after the first 2 MiB
    BOOST_TEST(largest[0] > 4096u);   // grew while the body streamed in
    BOOST_TEST(largest[0] <= HttpLimits{}.read_buffer_bytes);
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_SUITE_END()
