#pragma once
// Helpers for the relay/client suites: a relay on 127.0.0.1, payloads, whole-segment reads.

#include <cstdint>
#include <string>

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include "test_support.hpp"
#include "trickle/net/http_client.hpp"
#include "trickle/protocol/publisher.hpp"
#include "trickle/protocol/relay_server.hpp"
#include "trickle/protocol/subscriber.hpp"

namespace trickle::test {

using protocol::Bytes;

using namespace std::chrono_literals;

// With options.tls it serves https:// (and url() says so).
struct TestRelay {
  explicit TestRelay(net::Executor executor, protocol::RelayOptions options = {}, std::uint16_t port = 0)
      : server(std::move(executor), std::move(options)) {
    auto endpoint = server.listen("127.0.0.1", port);
    BOOST_REQUIRE_MESSAGE(endpoint, "relay cannot listen: " << (endpoint ? "" : endpoint.error().message));
    server.start();
  }
  ~TestRelay() { server.stop(); }

  std::string url(std::string_view channel) const {
    return fmt::format("{}://127.0.0.1:{}/{}", server.secure() ? "https" : "http", server.port(), channel);
  }
  protocol::RelayServer server;
};

inline net::Url parse_url(const std::string& text) {
  auto url = net::Url::parse(text);
  BOOST_REQUIRE_MESSAGE(url, text);
  return *url;
}

// One request on its own connection; fails the test if the exchange itself fails.
inline net::awaitable<net::HttpResponse> request(std::string url, std::string method, net::HttpHeaders headers = {},
                                                 std::string body = {}) {
  auto executor = co_await asio::this_coro::executor;
  auto response = co_await net::http_request(executor, parse_url(url), method, std::move(headers), body);
  BOOST_REQUIRE_MESSAGE(response, method << " " << url << ": " << (response ? "" : response.error().message));
  co_return std::move(*response);
}

inline net::awaitable<Bytes> read_all(protocol::SubscribedSegment& segment) {
  Bytes out;
  for (;;) {
    auto piece = co_await segment.read();
    BOOST_REQUIRE_MESSAGE(piece, "reading segment " << segment.seq() << ": " << (piece ? "" : piece.error().message));
    if (!*piece) co_return out;
    out.insert(out.end(), (*piece)->begin(), (*piece)->end());
  }
}

// Publishes one segment as pieces of `piece_size` bytes.
inline net::awaitable<std::int64_t> publish(protocol::TricklePublisher& publisher, const Bytes& data,
                                            std::size_t piece_size) {
  auto writer = co_await publisher.next();
  for (std::size_t at = 0; at < data.size(); at += piece_size) {
    auto n = std::min(piece_size, data.size() - at);
    bool ok = co_await writer->write(std::span<const std::uint8_t>(data.data() + at, n));
    BOOST_REQUIRE(ok);
  }
  bool accepted = co_await writer->close();
  BOOST_REQUIRE(accepted);
  co_return writer->seq();
}

// The subscriber's next segment, whole, and its seq (for a TaskGroup while the test publishes).
inline net::awaitable<void> read_next_segment(protocol::TrickleSubscriber& subscriber, Bytes& out, std::int64_t& seq,
                                              const char* what = "the subscriber got no segment") {
  auto segment = co_await subscriber.next();
  BOOST_REQUIRE_MESSAGE(segment, what);
  seq = segment->seq();
  out = co_await read_all(*segment);
}

inline protocol::SubscriberOptions fast_subscriber(std::int64_t start_seq) {
  protocol::SubscriberOptions options;
  options.start_seq = start_seq;
  options.retry_delay = 20ms;
  options.connect_timeout = 5s;
  options.read_timeout = 5s;
  return options;
}

// Waits until `readers` readers wait on `seq` of `channel` (the relay pre-created it for a GET), so
// a test can publish (or delete) knowing they are already there, however loaded the machine is.
inline net::awaitable<void> until_waited_on(protocol::RelayServer& relay, const std::string& channel, std::int64_t seq,
                                            int readers = 1) {
  bool waited_on = co_await test::eventually(
      [&] {
        auto held = relay.find_channel(channel);
        auto segment = held ? held->find_segment(seq) : nullptr;
        return segment && segment->reader_count() >= readers;
      },
      10s);
  BOOST_REQUIRE_MESSAGE(waited_on, readers << " readers did not wait on " << channel << "/" << seq);
}

// A GET started in `group` that may wait (on a pre-created segment, say); `out` holds its answer
// once the group has been waited for.
inline void spawn_get(TaskGroup& group, std::string url, net::HttpResponse& out) {
  group.spawn([](std::string u, net::HttpResponse& o) -> net::awaitable<void> { o = co_await request(u, "GET"); }(
                                                          std::move(url), out));
}

// The owner's side, as go-livepeer's gateway creates a stream's channels before handing out the
// URLs (over HTTP a relay without autocreate refuses to create them).
inline void create_channel(TestRelay& relay, const std::string& name) {
  relay.server.create_channel(name, "video/mp2t");
}

}  // namespace trickle::test
