// The relay against peers that are broken or hostile, spoken to with raw TCP bytes: every case
// checks the status the relay answers and what happens to the connection, and then that the
// relay still serves a normal publish/subscribe round trip.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include "raw_tcp_client.hpp"
#include "http_test_support.hpp"
#include "trickle/net/http_client.hpp"
#include "trickle/protocol/relay_server.hpp"

using namespace trickle;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using net::awaitable;
using net::Clock;
using net::HttpClientConnection;
using net::HttpHeaders;
using test::RawTcpClient;
using test::read_body;

using test::error_of;
using test::eventually;

namespace {

using Bytes = std::vector<std::uint8_t>;

// Short deadlines so the timeout cases run fast; autocreate as a local test relay has it.
protocol::RelayOptions hostile_options() {
  protocol::RelayOptions options;
  options.autocreate = true;
  options.limits.header_timeout = 300ms;
  options.limits.idle_timeout = 5s;
  options.limits.write_timeout = 500ms;
  options.limits.max_header_bytes = 4096;
  options.limits.max_body_bytes = 64 * 1024 * 1024;
  return options;
}

struct HostileRelay {
  explicit HostileRelay(net::Executor executor, protocol::RelayOptions options = hostile_options())
      : server(std::move(executor), std::move(options)) {
    auto endpoint = server.listen("127.0.0.1", 0);
    BOOST_REQUIRE_MESSAGE(endpoint, "relay cannot listen: " << error_of(endpoint));
    server.start();
  }
  ~HostileRelay() { server.stop(); }

  std::uint16_t port() const { return server.port(); }
  net::Url url(std::string_view target) const {
    net::Url url;
    url.host = "127.0.0.1";
    url.port = server.port();
    url.target = std::string(target);
    return url;
  }

  // Sends raw bytes on a fresh connection.
  awaitable<std::unique_ptr<RawTcpClient>> send_raw(std::string_view bytes) {
    auto executor = co_await asio::this_coro::executor;
    auto client = std::make_unique<RawTcpClient>(executor);
    bool connected = co_await client->connect(port());
    BOOST_REQUIRE(connected);
    bool sent = co_await client->send(bytes);
    BOOST_REQUIRE(sent);
    co_return client;
  }

  // Stops the relay and waits until every session has ended.
  awaitable<void> stop() {
    server.stop();
    bool drained = co_await eventually([this] { return server.http().connection_count() == 0; });
    BOOST_TEST(drained, "relay sessions still running after stop(): " << server.http().connection_count());
  }

  protocol::RelayServer server;
};

awaitable<std::unique_ptr<HttpClientConnection>> connect(const HostileRelay& relay) {
  auto executor = co_await asio::this_coro::executor;
  auto connection = co_await HttpClientConnection::connect(executor, relay.url("/"), 5s);
  BOOST_REQUIRE_MESSAGE(connection, "connect: " << error_of(connection));
  co_return std::move(*connection);
}

// Streams `data` as one chunked POST and checks the relay accepted it as `seq`.
awaitable<void> publish(HttpClientConnection& publisher, const Bytes& data, std::size_t piece, std::int64_t seq) {
  for (std::size_t at = 0; at < data.size(); at += piece) {
    auto n = std::min(piece, data.size() - at);
    auto sent = co_await publisher.send_body(std::span<const std::uint8_t>(data.data() + at, n));
    BOOST_REQUIRE_MESSAGE(sent, "publishing: " << error_of(sent));
  }
  auto finished = co_await publisher.finish_body();
  BOOST_REQUIRE(finished);
  auto head = co_await publisher.read_response_head(5s);
  BOOST_REQUIRE_MESSAGE(head, "publish response: " << error_of(head));
  BOOST_TEST(head->status == 200);
  BOOST_TEST(head->headers.get(protocol::header_seq).value_or("") == std::to_string(seq));
  co_await read_body(publisher);
}

// Reads one subscribed segment whole and checks the relay served it as `seq`.
awaitable<Bytes> subscribe(HttpClientConnection& subscriber, std::int64_t seq) {
  auto head = co_await subscriber.read_response_head(5s);
  BOOST_REQUIRE_MESSAGE(head, "subscribe response: " << error_of(head));
  BOOST_REQUIRE_EQUAL(head->status, 200);
  BOOST_TEST(head->headers.get(protocol::header_seq).value_or("") == std::to_string(seq));
  co_return co_await read_body(subscriber);
}

// The normal case, to run after each hostile one: a subscriber waits on segment 0 of a fresh
// channel while a publisher streams it, and receives every byte.
awaitable<void> expect_round_trip(HostileRelay& relay) {
  static std::uint32_t round = 0;
  auto channel = fmt::format("healthy-{}", ++round);
  relay.server.create_channel(channel, "application/octet-stream");
  const Bytes data = test::random_bytes(100'000 + round, round);

  auto subscriber = co_await connect(relay);
  HttpHeaders get_headers;
  auto asked = co_await subscriber->send_head("GET", fmt::format("/{}/0", channel), std::move(get_headers));
  BOOST_REQUIRE(asked);
  auto publisher = co_await connect(relay);
  HttpHeaders post_headers;
  post_headers.add("Content-Type", "application/octet-stream");
  auto started = co_await publisher->send_head("POST", fmt::format("/{}/0", channel), std::move(post_headers),
                                               net::BodyMode::chunked);
  BOOST_REQUIRE(started);

  Bytes received;
  auto receive = [&]() -> awaitable<void> { received = co_await subscribe(*subscriber, 0); };
  co_await (publish(*publisher, data, 8 * 1024, 0) && receive());
  BOOST_TEST((received == data), "round trip on " << channel << " lost bytes");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(relay_hostile_input)

BOOST_AUTO_TEST_CASE(malformed_request_line_is_a_400_and_the_connection_closes) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    const std::string_view cases[] = {
        "HELLO /chan/0 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /chan/0 HTTP/1.1 extra\r\nHost: t\r\n\r\n",
        "GET /chan/0 HTTQ/1.1\r\nHost: t\r\n\r\n",
        "GET /chan/0 HTTP/1.7\r\nHost: t\r\n\r\n",
        "GET /chan 0 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /chan/0 HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
        "POST /chan/0 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\nabcd",
    };
    for (auto request : cases) {
      BOOST_TEST_CONTEXT(request) {
        auto client = co_await relay.send_raw(request);
        bool closed = co_await client->read_until_closed(3s);
        BOOST_TEST(closed);
        BOOST_TEST(client->status() == 400);
        BOOST_TEST(client->header("Connection").value_or("") == "close");
      }
    }
    BOOST_TEST(relay.server.find_channel("chan") == nullptr);  // nothing was acted upon
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(garbage_bytes_are_a_400) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    const Bytes noise = test::random_bytes(600, 99);
    std::string binary(noise.begin(), noise.end());
    binary[0] = '\x16';  // what a TLS ClientHello starts with
    std::string zeros(64, '\0');
    std::string text_noise = "\x7f\x45LF\x02\x01\x01 some binary that is not a method";
    for (const auto& bytes : {binary, zeros, text_noise}) {
      BOOST_TEST_CONTEXT("garbage of " << bytes.size() << " bytes") {
        auto client = co_await relay.send_raw(bytes);
        bool closed = co_await client->read_until_closed(3s);
        BOOST_TEST(closed);
        BOOST_TEST(client->status() == 400);
      }
    }
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(oversized_headers_are_a_431) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    std::string one_big = "GET /chan/0 HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8 * 1024, 'b') + "\r\n\r\n";
    std::string many = "GET /chan/0 HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; many.size() < 6 * 1024; ++i) many += fmt::format("X-Field-{}: {}\r\n", i, i);
    many += "\r\n";
    std::string long_target = "GET /" + std::string(5000, 'c') + "/0 HTTP/1.1\r\nHost: t\r\n\r\n";
    std::string flood = "POST /chan/0 HTTP/1.1\r\nX-Flood: " + std::string(200 * 1024, 'f');  // never ends
    for (const auto& request : {one_big, many, long_target, flood}) {
      BOOST_TEST_CONTEXT("head of " << request.size() << " bytes") {
        RawTcpClient client(ex);
        bool connected = co_await client.connect(relay.port());
        BOOST_REQUIRE(connected);
        // The relay may answer and close before the flood is all sent: the send may fail.
        co_await client.send(request);
        bool closed = co_await client.read_until_closed(3s);
        BOOST_TEST(closed);
        BOOST_TEST(client.status() == 431);
      }
    }
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(huge_content_length_is_a_413_before_the_body) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    // Only the head is sent: the refusal cannot be waiting for a terabyte.
    auto client = co_await relay.send_raw("POST /big/0 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000000\r\n\r\n");
    bool closed = co_await client->read_until_closed(3s);
    BOOST_TEST(closed);
    BOOST_TEST(client->status() == 413);
    BOOST_TEST(relay.server.find_channel("big") == nullptr);
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(non_integer_seq_is_a_400) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    relay.server.create_channel("chan");
    const std::string_view cases[] = {
        "GET /chan/abc HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /chan/1.5 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        "POST /chan/1.5 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /chan/ HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /chan/0x10 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /chan/+-1 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /chan/- HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /chan/99999999999999999999999 HTTP/1.1\r\nHost: t\r\n\r\n",
        "DELETE /chan/x HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /chan/-5 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    };
    for (auto request : cases) {
      BOOST_TEST_CONTEXT(request) {
        auto client = co_await relay.send_raw(request);
        int status = co_await client->read_response(3s);
        BOOST_TEST(status == 400);
        // A caller bug, not a broken connection: the same connection goes on being served.
        bool sent = co_await client->send("GET /chan/next HTTP/1.1\r\nHost: t\r\n\r\n");
        BOOST_REQUIRE(sent);
        int next_status = co_await client->read_response(3s);
        BOOST_TEST(next_status == 200);
      }
    }
    BOOST_TEST(relay.server.find_channel("chan")->next_write() == 0);  // nothing was written
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(delete_of_an_unknown_segment_is_a_400) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    relay.server.create_channel("chan");
    auto client = co_await relay.send_raw("DELETE /chan/99 HTTP/1.1\r\nHost: t\r\n\r\n");
    int status = co_await client->read_response(3s);
    BOOST_TEST(status == 400);
    BOOST_TEST(!relay.server.find_channel("chan")->closed());

    auto unknown_channel = co_await relay.send_raw("DELETE /nochan/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    int unknown_status = co_await unknown_channel->read_response(3s);
    BOOST_TEST(unknown_status == 404);
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(get_of_an_unknown_channel_is_a_404_with_connection_close) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    for (std::string_view target : {"/nochan/0", "/nochan/-1", "/nochan/-2", "/nochan/next"}) {
      BOOST_TEST_CONTEXT(target) {
        const std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: t\r\n\r\n", target);
        auto client = co_await relay.send_raw(request);
        bool closed = co_await client->read_until_closed(3s);
        BOOST_TEST(closed);
        BOOST_TEST(client->status() == 404);
        BOOST_TEST(client->header("Connection").value_or("") == "close");
      }
    }
    BOOST_TEST(relay.server.find_channel("nochan") == nullptr);  // a GET never creates a channel
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(unknown_method_is_a_405) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    relay.server.create_channel("chan");
    const std::string_view cases[] = {
        "PUT /chan/0 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
        "PATCH /chan HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        "OPTIONS /chan/0 HTTP/1.1\r\nHost: t\r\n\r\n",
        "PUT /chan/next HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    };
    for (auto request : cases) {
      BOOST_TEST_CONTEXT(request) {
        auto client = co_await relay.send_raw(request);
        int status = co_await client->read_response(3s);
        BOOST_TEST(status == 405);
      }
    }
    BOOST_TEST(relay.server.find_channel("chan")->next_write() == 0);
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(absurd_chunk_size_ends_the_segment_for_its_readers) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    relay.server.create_channel("absurd");
    auto subscriber = co_await connect(relay);
    HttpHeaders headers;
    auto asked = co_await subscriber->send_head("GET", "/absurd/0", std::move(headers));
    BOOST_REQUIRE(asked);

    auto publisher = co_await relay.send_raw(
        "POST /absurd/0 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    // The subscriber is live on the segment before the bad chunk comes.
    auto head = co_await subscriber->read_response_head(5s);
    BOOST_REQUIRE_MESSAGE(head, error_of(head));
    BOOST_REQUIRE_EQUAL(head->status, 200);
    auto first = co_await subscriber->read_body(5s);
    BOOST_REQUIRE(first && *first);
    BOOST_TEST(std::string((*first)->begin(), (*first)->end()) == "hello");

    const std::string absurd_chunk = "fffffffffff\r\n" + std::string(1000, 'x');
    bool sent = co_await publisher->send(absurd_chunk);
    BOOST_REQUIRE(sent);
    // Readers see the segment end (a clean end of body, as for a publisher that died).
    auto end = co_await subscriber->read_body(3s);
    BOOST_REQUIRE_MESSAGE(end, error_of(end));
    BOOST_TEST(!end->has_value());

    bool closed = co_await publisher->read_until_closed(3s);
    BOOST_TEST(closed);
    int status = publisher->status();
    BOOST_TEST((status == 413 || status == 400), "the publisher of an absurd chunk got " << status);

    // The next segment is published normally.
    HttpHeaders post_headers;
    auto next = co_await net::http_request(ex, relay.url("/absurd/1"), "POST", std::move(post_headers), "after");
    BOOST_REQUIRE_MESSAGE(next, error_of(next));
    BOOST_TEST(next->head.status == 200);
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(body_cut_mid_chunk_ends_the_segment_and_the_next_post_works) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    relay.server.create_channel("cut");
    auto subscriber = co_await connect(relay);
    HttpHeaders headers;
    auto asked = co_await subscriber->send_head("GET", "/cut/0", std::move(headers));
    BOOST_REQUIRE(asked);

    auto publisher =
        co_await relay.send_raw("POST /cut/0 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    auto head = co_await subscriber->read_response_head(5s);
    BOOST_REQUIRE_MESSAGE(head, error_of(head));
    BOOST_REQUIRE_EQUAL(head->status, 200);
    auto first = co_await subscriber->read_body(5s);
    BOOST_REQUIRE(first && *first);
    BOOST_TEST(std::string((*first)->begin(), (*first)->end()) == "hello");

    // Half a chunk (which the relay passes on as it comes), then the publisher vanishes: the
    // reader gets what was sent and then the end of the segment, not a hang or an error.
    bool sent = co_await publisher->send("10\r\nabc");
    BOOST_REQUIRE(sent);
    publisher->close();
    auto rest = co_await read_body(*subscriber);
    BOOST_TEST(std::string(rest.begin(), rest.end()) == "abc");

    // Segment 1 goes through, to a reader pre-connected before it starts.
    auto next_subscriber = co_await connect(relay);
    HttpHeaders next_headers;
    auto next_asked = co_await next_subscriber->send_head("GET", "/cut/1", std::move(next_headers));
    BOOST_REQUIRE(next_asked);
    auto next_publisher = co_await connect(relay);
    HttpHeaders post_headers;
    auto started =
        co_await next_publisher->send_head("POST", "/cut/1", std::move(post_headers), net::BodyMode::chunked);
    BOOST_REQUIRE(started);
    const Bytes data = test::random_bytes(50'000, 7);
    Bytes received;
    auto receive = [&]() -> awaitable<void> { received = co_await subscribe(*next_subscriber, 1); };
    co_await (publish(*next_publisher, data, 4096, 1) && receive());
    BOOST_TEST((received == data));
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

// A publisher that sends part of a segment and then nothing (it died without closing, or it is
// hostile) is cut off after stalled_body_timeout: its readers get what came and the end of the
// segment, and the connection is closed. Before its first byte a POST may wait (pre-connected).
BOOST_AUTO_TEST_CASE(a_publisher_that_stalls_mid_segment_is_cut_off) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto options = hostile_options();
    options.post_keepalive = 50ms;
    options.stalled_body_timeout = 300ms;
    HostileRelay relay(ex, options);
    relay.server.create_channel("stall");
    auto subscriber = co_await connect(relay);
    HttpHeaders headers;
    BOOST_REQUIRE(co_await subscriber->send_head("GET", "/stall/0", std::move(headers)));
    auto publisher = co_await relay.send_raw(
        "POST /stall/0 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    auto started = net::Clock::now();
    auto head = co_await subscriber->read_response_head(5s);
    BOOST_REQUIRE_MESSAGE(head, error_of(head));
    BOOST_REQUIRE_EQUAL(head->status, 200);
    auto got = co_await read_body(*subscriber);
    auto waited = net::Clock::now() - started;
    BOOST_TEST(std::string(got.begin(), got.end()) == "hello");
    BOOST_TEST((waited >= 250ms && waited < 3s));
    BOOST_TEST(co_await publisher->read_until_closed(3s));
    BOOST_TEST(publisher->status() == 408);
    // A pre-connected POST with no byte yet is not a stall: it is kept (with interim 100s).
    auto waiting = co_await relay.send_raw("POST /stall/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    co_await net::sleep_for(600ms);
    BOOST_TEST(!waiting->closed());
    BOOST_TEST(co_await waiting->send("3\r\nabc\r\n0\r\n\r\n"));
    BOOST_TEST(co_await waiting->read_until("HTTP/1.1 200", 3s));
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(idle_preconnected_post_is_answered_at_once_when_its_segment_is_deleted) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    relay.server.create_channel("idle");
    // A pre-connected POST: head sent, not one body byte (as a publisher waiting for its next GOP).
    auto publisher = co_await relay.send_raw("POST /idle/0 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    // DELETE /idle/0 is a 400 until the POST has opened the segment, then a 200 that releases it.
    int deleted = 0;
    for (auto deadline = Clock::now() + 5s; deleted != 200 && Clock::now() < deadline;) {
      HttpHeaders no_headers;
      auto answer = co_await net::http_request(ex, relay.url("/idle/0"), "DELETE", std::move(no_headers));
      BOOST_REQUIRE_MESSAGE(answer, error_of(answer));
      deleted = answer->head.status;
      if (deleted != 200) co_await net::sleep_for(1ms);
    }
    BOOST_REQUIRE_EQUAL(deleted, 200);
    // Released: the answer must not wait for a body that is not coming.
    auto released_at = Clock::now();
    bool answered = co_await publisher->read_until("\r\n\r\n", 3s);
    BOOST_REQUIRE(answered);
    BOOST_TEST(publisher->status() == 200);
    BOOST_TEST(publisher->header(protocol::header_seq).value_or("") == "0");
    BOOST_TEST((Clock::now() - released_at < 1s));
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(client_that_sends_nothing_is_closed_after_header_timeout) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    RawTcpClient silent(ex), half_head(ex);
    bool connected = co_await silent.connect(relay.port());
    BOOST_REQUIRE(connected);
    bool half_connected = co_await half_head.connect(relay.port());
    BOOST_REQUIRE(half_connected);
    auto started = Clock::now();
    bool sent = co_await half_head.send("GET /chan/0 HTTP/1.1\r\nHo");
    BOOST_REQUIRE(sent);

    bool silent_closed = co_await silent.read_until_closed(3s);
    bool half_closed = co_await half_head.read_until_closed(3s);
    BOOST_TEST(silent_closed);
    BOOST_TEST(half_closed);
    auto elapsed = Clock::now() - started;
    BOOST_TEST((elapsed >= 250ms));
    BOOST_TEST((elapsed < 2s));
    bool drained = co_await eventually([&] { return relay.server.http().connection_count() == 0; });
    BOOST_TEST(drained);
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_CASE(subscriber_that_stops_reading_is_dropped_while_others_get_every_byte) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    HostileRelay relay(ex);
    relay.server.create_channel("fan", "video/mp2t");

    // Asks for the segment, then never reads; its tiny window fills after a few KiB.
    RawTcpClient stalled(ex);
    bool connected = co_await stalled.connect(relay.port(), 4096);
    BOOST_REQUIRE(connected);
    bool asked = co_await stalled.send("GET /fan/0 HTTP/1.1\r\nHost: t\r\n\r\n");
    BOOST_REQUIRE(asked);

    auto subscriber = co_await connect(relay);
    HttpHeaders get_headers;
    auto subscribed = co_await subscriber->send_head("GET", "/fan/0", std::move(get_headers));
    BOOST_REQUIRE(subscribed);
    auto publisher = co_await connect(relay);
    HttpHeaders post_headers;
    post_headers.add("Content-Type", "video/mp2t");
    auto started = co_await publisher->send_head("POST", "/fan/0", std::move(post_headers), net::BodyMode::chunked);
    BOOST_REQUIRE(started);

    // Far more than the relay's socket send buffer (4 MiB at most here) holds for the stalled one.
    const Bytes data = test::random_bytes(16 * 1024 * 1024, 11);
    Bytes received;
    auto receive = [&]() -> awaitable<void> { received = co_await subscribe(*subscriber, 0); };
    co_await (publish(*publisher, data, 32 * 1024, 0) && receive());
    BOOST_TEST(received.size() == data.size());
    BOOST_TEST((received == data));

    // Once the well-behaved peers leave, the only session that could remain is the stalled one:
    // the relay must have dropped it on its own.
    subscriber->close();
    publisher->close();
    bool dropped = co_await eventually([&] { return relay.server.http().connection_count() == 0; });
    BOOST_TEST(dropped, "the stalled subscriber is still connected");
    stalled.keep_received(false);
    bool closed = co_await stalled.read_until_closed(5s);
    BOOST_TEST(closed);
    BOOST_TEST(stalled.received_bytes() < data.size());
    co_await expect_round_trip(relay);
    co_await relay.stop();
  });
}

BOOST_AUTO_TEST_SUITE_END()
