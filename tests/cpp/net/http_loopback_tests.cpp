// HttpServer and HttpClientConnection against each other over real sockets on 127.0.0.1: bodies
// streamed both ways, keep-alive, interim responses, and the deadlines and shutdown paths that
// keep a misbehaving peer from holding the server.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "raw_tcp_client.hpp"
#include "http_test_support.hpp"
#include "loopback_server.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/net/http_client.hpp"
#include "trickle/net/http_server.hpp"

using namespace trickle;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using net::awaitable;
using net::BodyMode;
using net::Clock;
using net::HttpClientConnection;
using net::HttpErrc;
using net::HttpHeaders;
using net::HttpLimits;
using net::ServerRequest;
using net::ServerResponse;

using test::error_of;
using test::eventually;
using test::read_body;

using test::as_bytes;
using test::Bytes;
using test::connect;
using test::echo_handler;
using test::send_in_pieces;
using test::TestServer;

BOOST_AUTO_TEST_SUITE(http_loopback)

BOOST_AUTO_TEST_CASE(streamed_chunked_echo_of_a_large_body) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler);
    const Bytes data = test::random_bytes(5 * 1024 * 1024 + 17, 1);
    for (std::size_t piece : {std::size_t(1300), std::size_t(32 * 1024)}) {
      BOOST_TEST_CONTEXT("piece size " << piece) {
        auto client = co_await connect(server);
        HttpHeaders headers;
        headers.add("Content-Type", "application/octet-stream");
        auto sent = co_await client->send_head("POST", "/stream", std::move(headers), BodyMode::chunked);
        BOOST_REQUIRE(sent);
        // Send and receive at once: the echo comes back while the body is still going out, and a
        // client that only read afterwards would deadlock once both socket buffers were full.
        Bytes echoed;
        auto receive = [&]() -> awaitable<void> {
          auto head = co_await client->read_response_head(5s);
          BOOST_REQUIRE_MESSAGE(head, error_of(head));
          BOOST_TEST(head->status == 200);
          BOOST_TEST(head->headers.get("Transfer-Encoding").value_or("") == "chunked");
          echoed = co_await read_body(*client);
        };
        co_await (send_in_pieces(*client, data, piece) && receive());
        BOOST_TEST(echoed.size() == data.size());
        BOOST_TEST((echoed == data));
        BOOST_TEST(client->keep_alive());
      }
    }
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(content_length_echo) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler);
    const Bytes data = test::random_bytes(1024 * 1024 + 3, 2);
    auto client = co_await connect(server);
    HttpHeaders headers;
    auto sent = co_await client->send_head("POST", "/whole", std::move(headers), BodyMode::content_length, data.size());
    BOOST_REQUIRE(sent);
    co_await send_in_pieces(*client, data, 50'000);
    auto head = co_await client->read_response_head(5s);
    BOOST_REQUIRE(head);
    BOOST_TEST(head->status == 200);
    BOOST_TEST(head->headers.get("Content-Length").value_or("") == std::to_string(data.size()));
    auto echoed = co_await read_body(*client);
    BOOST_TEST((echoed == data));

    // An empty Content-Length body is a complete message too.
    auto empty = co_await net::http_request(ex, server.url("/whole"), "POST");
    BOOST_REQUIRE(empty);
    BOOST_TEST(empty->head.status == 200);
    BOOST_TEST(empty->body.empty());
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_several_requests_on_one_connection) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::uint16_t> peer_ports;
    TestServer server(ex, [&](ServerRequest& request, ServerResponse& response) -> awaitable<void> {
      peer_ports.push_back(request.connection().socket().remote_endpoint().port());
      co_await echo_handler(request, response);
    });
    auto client = co_await connect(server);
    const Bytes body = test::random_bytes(3000, 3);
    // GET, chunked POST, a POST whose body the handler never reads (the server must skip it to
    // find the next request), GET.
    for (int i = 0; i < 4; ++i) {
      BOOST_TEST_CONTEXT("request " << i) {
        HttpHeaders headers;
        if (i == 1) {
          auto sent = co_await client->send_head("POST", "/whole", std::move(headers), BodyMode::chunked);
          BOOST_REQUIRE(sent);
          co_await send_in_pieces(*client, body, 1000);
        } else if (i == 2) {
          auto sent =
              co_await client->send_head("POST", "/hello", std::move(headers), BodyMode::content_length, body.size());
          BOOST_REQUIRE(sent);
          co_await send_in_pieces(*client, body, 700);
        } else {
          auto sent = co_await client->send_head("GET", "/hello", std::move(headers));
          BOOST_REQUIRE(sent);
        }
        auto head = co_await client->read_response_head(5s);
        BOOST_REQUIRE_MESSAGE(head, error_of(head));
        BOOST_TEST(head->status == 200);
        BOOST_TEST(!head->headers.contains("Connection"));
        auto received = co_await read_body(*client);
        if (i == 1)
          BOOST_TEST((received == body));
        else
          BOOST_TEST(std::string(received.begin(), received.end()) == "hello");
        BOOST_TEST(client->keep_alive());
      }
    }
    BOOST_REQUIRE_EQUAL(peer_ports.size(), 4u);
    for (auto port : peer_ports) BOOST_TEST(port == peer_ports[0]);
    BOOST_TEST(server.server.connection_count() == 1u);
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(client_connection_close_closes_after_the_response) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler);
    auto client = co_await connect(server);
    HttpHeaders headers;
    headers.add("Connection", "close");
    auto sent = co_await client->send_head("GET", "/hello", std::move(headers));
    BOOST_REQUIRE(sent);
    auto head = co_await client->read_response_head(5s);
    BOOST_REQUIRE(head);
    BOOST_TEST(head->status == 200);
    BOOST_TEST(head->headers.has_token("Connection", "close"));
    BOOST_TEST(!client->keep_alive());
    auto body = co_await read_body(*client);
    BOOST_TEST(std::string(body.begin(), body.end()) == "hello");

    // The server closes its end: the next read sees the end of the stream, not a hang.
    std::array<char, 16> byte;
    asio::steady_timer limit(ex, 2s);
    auto outcome = co_await (client->connection().socket().async_read_some(asio::buffer(byte), net::use_nothrow) ||
                             limit.async_wait(net::use_nothrow));
    BOOST_REQUIRE_MESSAGE(outcome.index() == 0, "the server kept the connection open");
    auto [ec, n] = std::get<0>(outcome);
    BOOST_TEST(n == 0u);
    BOOST_TEST((ec == asio::error::eof || ec == asio::error::connection_reset), ec.message());
    auto drained = co_await eventually([&] { return server.server.connection_count() == 0; });
    BOOST_TEST(drained);
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(chunked_response_pieces_arrive_as_they_are_written) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    constexpr int pieces = 20;
    std::size_t client_got = 0;  // bytes the client has read so far
    net::AsyncSignal progress(ex);
    bool server_gave_up = false;
    TestServer server(ex, [&](ServerRequest&, ServerResponse& response) -> awaitable<void> {
      HttpHeaders headers;
      if (!co_await response.start(200, std::move(headers))) co_return;
      std::size_t written = 0;
      for (int i = 0; i < pieces; ++i) {
        auto piece = test::random_bytes(100 + 97 * i, i);
        if (!co_await response.write(piece)) co_return;
        written += piece.size();
        // The next piece goes out only once the client has this one: if anything buffered it
        // (server or client side), this wait would never end.
        while (client_got < written) {
          if (!co_await progress.wait_for(5s)) {
            server_gave_up = true;
            co_return;
          }
        }
      }
      co_await response.finish();
    });
    auto client = co_await connect(server);
    HttpHeaders headers;
    auto sent = co_await client->send_head("GET", "/trickle", std::move(headers));
    BOOST_REQUIRE(sent);
    auto head = co_await client->read_response_head(5s);
    BOOST_REQUIRE(head);
    BOOST_TEST(head->status == 200);
    Bytes received;
    int reads = 0;
    for (;;) {
      auto piece = co_await client->read_body(5s);
      BOOST_REQUIRE_MESSAGE(piece, error_of(piece));
      if (!*piece) break;
      ++reads;
      received.insert(received.end(), (*piece)->begin(), (*piece)->end());
      client_got = received.size();
      progress.notify_all();
    }
    BOOST_TEST(!server_gave_up);
    BOOST_TEST(reads >= pieces);
    Bytes expected;
    for (int i = 0; i < pieces; ++i) {
      auto piece = test::random_bytes(100 + 97 * i, i);
      expected.insert(expected.end(), piece.begin(), piece.end());
    }
    BOOST_TEST((received == expected));
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body_is_sent) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler);
    auto client = co_await connect(server);
    HttpHeaders headers;
    headers.add("Expect", "100-continue");
    auto sent = co_await client->send_head("POST", "/whole", std::move(headers), BodyMode::content_length, 5);
    BOOST_REQUIRE(sent);

    // No body byte has been sent: the only thing that can arrive now is the interim 100.
    auto& connection = client->connection();
    auto interim = co_await connection.read_head(5s);
    BOOST_REQUIRE_MESSAGE(interim, error_of(interim));
    BOOST_TEST(connection.parser().response_head().status == 100);
    auto interim_end = co_await connection.read_body(5s);
    BOOST_REQUIRE(interim_end);
    BOOST_TEST(!interim_end->has_value());
    connection.next_message();

    auto body_sent = co_await client->send_body(as_bytes("hello"));
    BOOST_REQUIRE(body_sent);
    auto head = co_await client->read_response_head(5s);
    BOOST_REQUIRE(head);
    BOOST_TEST(head->status == 200);
    auto body = co_await read_body(*client);
    BOOST_TEST(std::string(body.begin(), body.end()) == "hello");
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(interim_responses_are_skipped_and_counted) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, [](ServerRequest&, ServerResponse& response) -> awaitable<void> {
      for (int i = 0; i < 3; ++i)
        if (!co_await response.send_interim(100)) co_return;
      HttpHeaders headers;
      headers.add("X-Final", "yes");
      co_await response.send(200, std::move(headers), "done");
    });
    for (int round = 0; round < 2; ++round) {  // and the connection stays usable afterwards
      auto client = co_await connect(server);
      HttpHeaders headers;
      auto sent = co_await client->send_head("POST", "/slow", std::move(headers), BodyMode::content_length, 0);
      BOOST_REQUIRE(sent);
      auto head = co_await client->read_response_head(5s);
      BOOST_REQUIRE_MESSAGE(head, error_of(head));
      BOOST_TEST(head->status == 200);
      BOOST_TEST(head->headers.get("X-Final").value_or("") == "yes");
      BOOST_TEST(client->interim_responses() == 3);
      auto body = co_await read_body(*client);
      BOOST_TEST(std::string(body.begin(), body.end()) == "done");
    }
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(http_request_helper) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::string seen_connection;
    TestServer server(ex, [&](ServerRequest& request, ServerResponse& response) -> awaitable<void> {
      seen_connection = std::string(request.headers().get("Connection").value_or(""));
      co_await echo_handler(request, response);
    });
    HttpHeaders headers;
    headers.add("X-Test", "1");
    auto posted = co_await net::http_request(ex, server.url("/whole"), "POST", std::move(headers), "ping body");
    BOOST_REQUIRE_MESSAGE(posted, error_of(posted));
    BOOST_TEST(posted->head.status == 200);
    BOOST_TEST(posted->body == "ping body");
    BOOST_TEST(seen_connection == "close");  // one request per connection

    auto got = co_await net::http_request(ex, server.url("/hello"), "GET");
    BOOST_REQUIRE(got);
    BOOST_TEST(got->body == "hello");

    // A body larger than max_body is refused instead of buffered.
    const Bytes big = test::random_bytes(100'000, 4);
    std::string big_text(big.begin(), big.end());
    HttpHeaders no_headers;
    auto refused =
        co_await net::http_request(ex, server.url("/whole"), "POST", std::move(no_headers), big_text, 5s, 1000);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error().code == HttpErrc::body_too_large));
    co_await server.stop();

    // Nobody listening any more: a clear connect failure, quickly.
    auto started = Clock::now();
    auto nobody = co_await net::http_request(ex, server.url("/hello"), "GET");
    BOOST_REQUIRE(!nobody);
    BOOST_TEST((nobody.error().code == HttpErrc::connect_failed), nobody.error().message);
    BOOST_TEST((Clock::now() - started < 2s));
  });
}

BOOST_AUTO_TEST_CASE(stop_releases_a_handler_blocked_on_a_body_that_never_comes) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    net::AsyncSignal changed(ex);
    bool reading = false, done = false;
    std::optional<net::HttpError> failure;
    TestServer server(ex, [&](ServerRequest& request, ServerResponse& response) -> awaitable<void> {
      if (request.path() != "/block") {
        co_await echo_handler(request, response);
        co_return;
      }
      reading = true;
      changed.notify_all();
      auto piece = co_await request.read_body();  // no deadline of its own
      if (!piece) failure = piece.error();
      done = true;
      changed.notify_all();
    });
    // A second, idle keep-alive connection must be closed by stop() as well.
    auto idle = co_await connect(server);
    HttpHeaders idle_headers;
    auto idle_sent = co_await idle->send_head("GET", "/hello", std::move(idle_headers));
    BOOST_REQUIRE(idle_sent);
    auto idle_answered = co_await idle->read_response_head(5s);
    BOOST_REQUIRE(idle_answered);
    co_await read_body(*idle);

    auto client = co_await connect(server);
    HttpHeaders headers;
    auto sent = co_await client->send_head("POST", "/block", std::move(headers), BodyMode::content_length, 100);
    BOOST_REQUIRE(sent);
    while (!reading) {
      auto woken = co_await changed.wait_for(5s);
      BOOST_REQUIRE(woken);
    }

    auto stopped_at = Clock::now();
    server.server.stop();
    while (!done) {
      auto woken = co_await changed.wait_for(1s);
      BOOST_REQUIRE_MESSAGE(woken, "the handler is still blocked after stop()");
    }
    BOOST_TEST((Clock::now() - stopped_at < 1s));
    BOOST_REQUIRE(failure);
    BOOST_TEST((failure->code == HttpErrc::cancelled || failure->code == HttpErrc::closed), failure->message);

    // Both clients see their connection end.
    auto response = co_await client->read_response_head(1s);
    BOOST_REQUIRE(!response);
    BOOST_TEST((response.error().code == HttpErrc::closed), response.error().message);
    idle->connection().next_message();
    auto idle_response = co_await idle->read_response_head(1s);
    BOOST_REQUIRE(!idle_response);
    BOOST_TEST((idle_response.error().code == HttpErrc::closed), idle_response.error().message);
    BOOST_TEST((Clock::now() - stopped_at < 1s));
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(write_to_a_client_that_stopped_reading_times_out) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HttpLimits limits;
    limits.write_timeout = 300ms;
    net::AsyncSignal changed(ex);
    std::optional<net::HttpError> write_failure;
    std::size_t written = 0;
    bool done = false;
    Clock::time_point failed_at;
    TestServer server(
        ex,
        [&](ServerRequest& request, ServerResponse& response) -> awaitable<void> {
          if (request.path() != "/big") {
            co_await echo_handler(request, response);
            co_return;
          }
          const Bytes piece = test::random_bytes(1024 * 1024, 5);
          HttpHeaders headers;
          auto result = co_await response.start(200, std::move(headers));
          // Far more than the socket buffers of both ends hold (a few MiB on loopback).
          for (int i = 0; result && i < 256; ++i) {
            result = co_await response.write(piece);
            if (result) written += piece.size();
          }
          if (!result) write_failure = result.error();
          failed_at = Clock::now();
          done = true;
          changed.notify_all();
        },
        limits);

    test::RawTcpClient stalled(ex);
    auto connected = co_await stalled.connect(server.server.port(), 4096);
    BOOST_REQUIRE(connected);
    auto sent = co_await stalled.send("GET /big HTTP/1.1\r\nHost: test\r\n\r\n");
    BOOST_REQUIRE(sent);
    auto sent_at = Clock::now();
    while (!done) {
      auto woken = co_await changed.wait_for(10s);
      BOOST_REQUIRE_MESSAGE(woken, "the write never gave up");
    }
    BOOST_REQUIRE_MESSAGE(write_failure, "all " << written << " bytes were written to a client that never read");
    BOOST_TEST((write_failure->code == HttpErrc::timeout), write_failure->message);
    BOOST_TEST(written < 256u * 1024 * 1024);
    BOOST_TEST((failed_at - sent_at >= 250ms));

    // The stalled connection is gone and the server goes on serving others.
    auto drained = co_await eventually([&] { return server.server.connection_count() == 0; });
    BOOST_TEST(drained);
    auto other = co_await net::http_request(ex, server.url("/hello"), "GET");
    BOOST_REQUIRE_MESSAGE(other, error_of(other));
    BOOST_TEST(other->body == "hello");

    // What the stalled client finally reads is a response that was cut off.
    stalled.keep_received(false);
    auto closed = co_await stalled.read_until_closed(5s);
    BOOST_TEST(closed);
    BOOST_TEST(stalled.received_bytes() < 256u * 1024 * 1024);
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(client_that_sends_nothing_is_dropped_after_header_timeout) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HttpLimits limits;
    limits.header_timeout = 200ms;
    TestServer server(ex, echo_handler, limits);

    test::RawTcpClient silent(ex), slow_head(ex);
    auto silent_connected = co_await silent.connect(server.server.port());
    BOOST_REQUIRE(silent_connected);
    auto slow_connected = co_await slow_head.connect(server.server.port());
    BOOST_REQUIRE(slow_connected);
    auto connected_at = Clock::now();
    // A head that starts but never ends (slowloris) gets no more time than silence does.
    auto sent = co_await slow_head.send("GET /hello HTTP/1.1\r\nHost: te");
    BOOST_REQUIRE(sent);

    auto silent_closed = co_await silent.read_until_closed(3s);
    BOOST_TEST(silent_closed);
    auto slow_closed = co_await slow_head.read_until_closed(3s);
    BOOST_TEST(slow_closed);
    auto elapsed = Clock::now() - connected_at;
    BOOST_TEST((elapsed >= 150ms));
    BOOST_TEST((elapsed < 2s));
    BOOST_TEST(silent.received().empty());
    auto drained = co_await eventually([&] { return server.server.connection_count() == 0; });
    BOOST_TEST(drained);

    // A prompt client is still served.
    auto ok = co_await net::http_request(ex, server.url("/hello"), "GET");
    BOOST_REQUIRE(ok);
    BOOST_TEST(ok->body == "hello");
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(idle_keep_alive_connection_is_closed_after_idle_timeout) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HttpLimits limits;
    limits.idle_timeout = 200ms;
    TestServer server(ex, echo_handler, limits);
    test::RawTcpClient client(ex);
    auto connected = co_await client.connect(server.server.port());
    BOOST_REQUIRE(connected);
    auto sent = co_await client.send("GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
    BOOST_REQUIRE(sent);
    auto answered = co_await client.read_until("hello", 5s);
    BOOST_REQUIRE(answered);
    BOOST_TEST(client.status() == 200);
    auto answered_at = Clock::now();
    auto closed = co_await client.read_until_closed(3s);
    BOOST_TEST(closed);
    BOOST_TEST((Clock::now() - answered_at >= 150ms));
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(handler_that_throws_gets_a_500_and_the_server_goes_on) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, [](ServerRequest& request, ServerResponse& response) -> awaitable<void> {
      if (request.path() == "/throw") throw std::runtime_error("handler bug");
      if (request.path() == "/throw-midway") {
        HttpHeaders headers;
        if (!co_await response.start(200, std::move(headers))) co_return;
        co_await response.write(as_bytes("partial"));
        throw std::runtime_error("handler bug after the head");
      }
      co_await echo_handler(request, response);
    });

    auto failed = co_await net::http_request(ex, server.url("/throw"), "GET");
    BOOST_REQUIRE_MESSAGE(failed, error_of(failed));
    BOOST_TEST(failed->head.status == 500);

    // On a keep-alive connection too: the 500 closes it, since the handler's state is unknown.
    auto client = co_await connect(server);
    HttpHeaders headers;
    auto sent = co_await client->send_head("GET", "/throw", std::move(headers));
    BOOST_REQUIRE(sent);
    auto head = co_await client->read_response_head(5s);
    BOOST_REQUIRE(head);
    BOOST_TEST(head->status == 500);
    BOOST_TEST(head->headers.has_token("Connection", "close"));
    co_await read_body(*client);

    // A response already under way cannot become a 500: the connection is cut instead, and the
    // client sees a body that did not end properly.
    auto midway = co_await net::http_request(ex, server.url("/throw-midway"), "GET");
    BOOST_REQUIRE(!midway);
    BOOST_TEST((midway.error().code == HttpErrc::closed), midway.error().message);

    for (int i = 0; i < 3; ++i) {
      auto ok = co_await net::http_request(ex, server.url("/hello"), "GET");
      BOOST_REQUIRE(ok);
      BOOST_TEST(ok->head.status == 200);
      BOOST_TEST(ok->body == "hello");
    }
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(bad_requests_get_their_status_and_a_closed_connection) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HttpLimits limits;
    limits.max_header_bytes = 2048;
    limits.max_body_bytes = 4096;
    bool handler_ran = false;
    TestServer server(
        ex,
        [&](ServerRequest& request, ServerResponse& response) -> awaitable<void> {
          handler_ran = true;
          co_await echo_handler(request, response);
        },
        limits);
    const std::pair<std::string, int> cases[] = {
        {"NOT HTTP AT ALL\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-Big: " + std::string(4096, 'x') + "\r\n\r\n", 431},
        {"POST /whole HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413},
    };
    for (const auto& [request, status] : cases) {
      BOOST_TEST_CONTEXT("expecting " << status) {
        test::RawTcpClient client(ex);
        auto connected = co_await client.connect(server.server.port());
        BOOST_REQUIRE(connected);
        auto sent = co_await client.send(request);
        BOOST_REQUIRE(sent);
        auto closed = co_await client.read_until_closed(3s);
        BOOST_TEST(closed);
        BOOST_TEST(client.status() == status);
        BOOST_TEST(client.header("Connection").value_or("") == "close");
      }
    }
    BOOST_TEST(!handler_ran);
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_SUITE_END()
