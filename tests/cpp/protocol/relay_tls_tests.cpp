// The trickle protocol over https://: the relay serving TLS with a certificate made at test time
// (as go-livepeer's does), our publisher and subscriber through it. The same rules as over plain
// HTTP: pre-connected GETs and POSTs, 404, 470, end of stream; and checks only when asked.

#include <map>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "relay_test_support.hpp"
#include "tls_test_certificates.hpp"

using namespace trickle;
using namespace std::chrono_literals;
using protocol::Bytes;
using test::create_channel;
using test::fast_subscriber;
using test::TestRelay;
using test::until_waited_on;

namespace {

protocol::RelayOptions tls_relay() {
  protocol::RelayOptions options;
  const auto& made = test::loopback_certificate();
  options.tls = net::TlsServerOptions{made.cert_file, made.key_file};
  return options;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

struct Reported {
  std::string kind, message;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(relay_tls)

BOOST_AUTO_TEST_CASE(segments_cross_an_https_relay_byte_exact) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex, tls_relay());
    auto url = relay.url("secure");
    BOOST_TEST(url.starts_with("https://"));
    create_channel(relay, "secure");

    // The subscriber is there first: its GET for seq 0 waits (pre-connected) before any byte.
    std::vector<Bytes> sent;
    for (int i = 0; i < 4; ++i) sent.push_back(test::random_bytes(150'000 + 333'333 * i, 40 + i));
    std::map<std::int64_t, Bytes> received;
    test::TaskGroup reader(ex);
    reader.spawn([](std::string url, std::map<std::int64_t, Bytes>& out) -> net::awaitable<void> {
      protocol::TrickleSubscriber subscriber(co_await asio::this_coro::executor, url, fast_subscriber(0));
      while (auto segment = co_await subscriber.next()) out[segment->seq()] = co_await test::read_all(*segment);
      BOOST_TEST(!subscriber.failed());
    }(url, received));
    co_await until_waited_on(relay.server, "secure", 0);

    protocol::PublisherOptions options;
    options.mime_type = "video/mp2t";
    protocol::TricklePublisher publisher(ex, url, options);
    std::size_t pieces[] = {1, 1300, 16 * 1024 + 1, 65536};
    for (std::size_t i = 0; i < sent.size(); ++i) co_await test::publish(publisher, sent[i], pieces[i]);
    co_await until_waited_on(relay.server, "secure", std::int64_t(sent.size()));
    BOOST_TEST(co_await publisher.close_and_delete_channel());  // over TLS too: the reader sees the end
    co_await reader.wait();
    BOOST_REQUIRE_EQUAL(received.size(), sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) BOOST_TEST((received[std::int64_t(i)] == sent[i]), "segment " << i);
  });
}

BOOST_AUTO_TEST_CASE(not_found_not_available_and_closed_over_tls) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex, tls_relay());

    // 404: stream_not_found, no retries.
    std::vector<std::string> errors;
    protocol::TrickleSubscriber missing(ex, relay.url("nobody"), fast_subscriber(0),
                                        [&](std::string_view kind, std::string_view) { errors.emplace_back(kind); });
    BOOST_TEST(!(co_await missing.next()));
    BOOST_REQUIRE_EQUAL(errors.size(), 1u);
    BOOST_TEST(errors[0] == "stream_not_found");

    // 470: a reader far behind joins at Lp-Trickle-Latest.
    auto url = relay.url("old");
    create_channel(relay, "old");
    protocol::TricklePublisher publisher(ex, url);
    for (int i = 0; i < 7; ++i) co_await test::publish(publisher, test::random_bytes(900, i), 300);
    protocol::TrickleSubscriber behind(ex, url, fast_subscriber(0));
    test::TaskGroup group(ex);
    Bytes got;
    std::int64_t got_seq = -1;
    group.spawn(test::read_next_segment(behind, got, got_seq));
    co_await until_waited_on(relay.server, "old", 7);
    auto fresh = test::random_bytes(4000, 77);
    co_await test::publish(publisher, fresh, 1000);
    co_await group.wait();
    BOOST_TEST(got_seq == 7);
    BOOST_TEST((got == fresh));

    // Closed: DELETE releases the waiting reader with the end of the stream, not an error.
    test::TaskGroup waiting(ex);
    bool ended = false;
    waiting.spawn([](protocol::TrickleSubscriber& sub, bool& done) -> net::awaitable<void> {
      done = !(co_await sub.next());
    }(behind, ended));
    co_await until_waited_on(relay.server, "old", 8);
    auto deleted = co_await test::request(url, "DELETE");
    BOOST_TEST(deleted.head.status == 200);
    co_await waiting.wait();
    BOOST_TEST(ended);
    BOOST_TEST(!behind.failed());
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(checks_on_refuse_the_self_signed_relay_and_accept_its_bundle) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex, tls_relay());
    auto url = relay.url("checked");
    create_channel(relay, "checked");

    auto checked = fast_subscriber(0);
    checked.max_retries = 2;
    checked.tls = net::TlsClientOptions{true, ""};
    std::vector<Reported> reports;
    auto record = [&](std::string_view kind, std::string_view message) {
      reports.push_back({std::string(kind), std::string(message)});
    };
    protocol::TrickleSubscriber refused(ex, url, checked, record);
    BOOST_TEST(!(co_await refused.next()));
    BOOST_REQUIRE_EQUAL(reports.size(), 1u);
    BOOST_TEST(reports[0].kind == "max_retries_exceeded");
    BOOST_TEST(contains(reports[0].message, "certificate verify failed"), reports[0].message);
    BOOST_TEST(contains(reports[0].message, url), reports[0].message);

    reports.clear();
    protocol::PublisherOptions publishing;
    publishing.tls = net::TlsClientOptions{true, ""};
    protocol::TricklePublisher refused_publisher(ex, url, publishing, record);
    auto writer = co_await refused_publisher.next();
    BOOST_TEST(!(co_await writer->close()));
    BOOST_REQUIRE(!reports.empty());
    BOOST_TEST(reports[0].kind == "connection_failed");
    BOOST_TEST(contains(reports[0].message, "certificate verify failed"), reports[0].message);
    co_await refused_publisher.close();

    // With the relay's own certificate as the bundle, both go through.
    auto trusted = fast_subscriber(0);
    trusted.tls.ca_file = test::loopback_certificate().cert_file;
    protocol::PublisherOptions trusted_publishing;
    trusted_publishing.tls.ca_file = trusted.tls.ca_file;
    protocol::TricklePublisher publisher(ex, url, trusted_publishing);
    auto data = test::random_bytes(70'000, 9);
    auto seq = co_await test::publish(publisher, data, 10'000);
    protocol::TrickleSubscriber subscriber(ex, url, trusted);
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    BOOST_TEST(segment->seq() == seq);
    BOOST_TEST((co_await test::read_all(*segment) == data));
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_SUITE_END()
