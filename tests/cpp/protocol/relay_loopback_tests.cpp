// The relay and our clients together over real HTTP on loopback.

#include <map>

#include <boost/test/unit_test.hpp>

#include "relay_test_support.hpp"

using namespace trickle;
using namespace std::chrono_literals;
using protocol::Bytes;
using test::create_channel;
using test::fast_subscriber;
using test::TestRelay;
using test::until_waited_on;

BOOST_AUTO_TEST_SUITE(relay_loopback)

BOOST_AUTO_TEST_CASE(one_publisher_many_subscribers_byte_exact) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("fan");
    create_channel(relay, "fan");

    constexpr int subscribers = 5, segments = 4;
    std::vector<Bytes> sent;
    for (int i = 0; i < segments; ++i) sent.push_back(test::random_bytes(200'000 + 77'777 * i, i));
    std::vector<std::map<std::int64_t, Bytes>> received(subscribers);

    test::TaskGroup readers(ex);
    for (int r = 0; r < subscribers; ++r) {
      readers.spawn([](std::string url, std::map<std::int64_t, Bytes>& out) -> net::awaitable<void> {
        protocol::TrickleSubscriber subscriber(co_await asio::this_coro::executor, url, fast_subscriber(0));
        while (auto segment = co_await subscriber.next()) out[segment->seq()] = co_await test::read_all(*segment);
        BOOST_TEST(!subscriber.failed());
      }(url, received[r]));
    }
    protocol::PublisherOptions options;
    options.mime_type = "video/mp2t";
    protocol::TricklePublisher publisher(ex, url, options);
    std::size_t pieces[] = {32 * 1024, 1300, 4096, 65536};
    for (int i = 0; i < segments; ++i) {
      auto seq = co_await test::publish(publisher, sent[i], pieces[i]);
      BOOST_TEST(seq == i);
    }
    // Every reader waits on the next seq when the stream ends, so each sees the end (a reader that
    // asked later would get 404: the channel is gone, as on go-livepeer's relay).
    co_await until_waited_on(relay.server, "fan", segments, subscribers);
    BOOST_TEST(co_await publisher.close_and_delete_channel());
    co_await readers.wait();

    for (int r = 0; r < subscribers; ++r) {
      BOOST_REQUIRE_EQUAL(received[r].size(), std::size_t(segments));
      for (int i = 0; i < segments; ++i)
        BOOST_TEST((received[r][i] == sent[i]), "subscriber " << r << " segment " << i);
    }
  });
}

BOOST_AUTO_TEST_CASE(subscriber_joining_mid_segment_gets_the_whole_segment) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("mid");
    create_channel(relay, "mid");
    protocol::TricklePublisher publisher(ex, url);
    auto data = test::random_bytes(300'000, 9);
    auto writer = co_await publisher.next();
    BOOST_REQUIRE(co_await writer->write(std::span(data).first(100'000)));
    // Wait until the relay holds the first part, then join at -2 ("the segment being written").
    while (relay.server.find_channel("mid")->next_write() == 0) co_await net::sleep_for(5ms);
    protocol::TrickleSubscriber subscriber(ex, url, fast_subscriber(-2));
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    BOOST_TEST(segment->seq() == 0);
    BOOST_REQUIRE(co_await writer->write(std::span(data).subspan(100'000)));
    BOOST_REQUIRE(co_await writer->close());
    BOOST_TEST((co_await test::read_all(*segment) == data));
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(unknown_channel_reports_stream_not_found) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    std::vector<std::string> errors;
    protocol::TrickleSubscriber subscriber(ex, relay.url("missing"), fast_subscriber(-2),
                                           [&](std::string_view kind, std::string_view) { errors.emplace_back(kind); });
    auto started = net::Clock::now();
    BOOST_TEST(!(co_await subscriber.next()));
    BOOST_TEST((net::Clock::now() - started < 1s));  // no retries on 404
    BOOST_REQUIRE_EQUAL(errors.size(), 1u);
    BOOST_TEST(errors[0] == "stream_not_found");
  });
}

BOOST_AUTO_TEST_CASE(subscriber_too_far_behind_resyncs_at_latest) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("old");
    create_channel(relay, "old");
    protocol::TricklePublisher publisher(ex, url);
    for (int i = 0; i < 8; ++i) co_await test::publish(publisher, test::random_bytes(1000, i), 1000);
    // Seq 0 left the ring long ago: 470, then the subscriber waits at Lp-Trickle-Latest (8).
    protocol::TrickleSubscriber subscriber(ex, url, fast_subscriber(0));
    test::TaskGroup group(ex);
    Bytes got;
    std::int64_t got_seq = -1;
    group.spawn(test::read_next_segment(subscriber, got, got_seq));
    co_await until_waited_on(relay.server, "old", 8);
    auto fresh = test::random_bytes(5000, 99);
    co_await test::publish(publisher, fresh, 1000);
    co_await group.wait();
    BOOST_TEST(got_seq == 8);
    BOOST_TEST((got == fresh));
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(channel_close_mid_segment_ends_readers_and_the_publisher_stops_posting) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("closing");
    create_channel(relay, "closing");
    protocol::TricklePublisher publisher(ex, url);
    protocol::TrickleSubscriber subscriber(ex, url, fast_subscriber(0));
    auto writer = co_await publisher.next();
    auto part = test::random_bytes(50'000, 3);
    BOOST_REQUIRE(co_await writer->write(part));
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    auto deleted = co_await test::request(url, "DELETE");
    BOOST_TEST(deleted.head.status == 200);
    BOOST_TEST((co_await test::read_all(*segment) == part));  // what was written, then the end
    BOOST_TEST(!(co_await subscriber.next()));                // end of stream, not an error
    BOOST_TEST(!subscriber.failed());
    // As go-livepeer's server, the relay reads the segment's POST to its end and answers it with a
    // plain 200: the publisher sees a finished segment, not an error.
    BOOST_TEST(co_await writer->write(part));
    BOOST_TEST(co_await writer->close());
    // The pre-connected POST for seq 1 was released with Lp-Trickle-Closed: nothing more is posted.
    bool gone = co_await test::eventually([&] { return publisher.channel_gone(); }, 5s);
    BOOST_TEST(gone);
    auto after = co_await publisher.next();
    BOOST_TEST(after->seq() == -1);
    BOOST_TEST(!(co_await after->write(part)));
    // The channel is forgotten: a late reader gets 404, as on go-livepeer's relay.
    auto late = co_await test::request(url + "/0", "GET");
    BOOST_TEST(late.head.status == 404);
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(publisher_dying_mid_segment_ends_the_segment_and_the_stream_goes_on) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("dying");
    create_channel(relay, "dying");
    protocol::TrickleSubscriber subscriber(ex, url, fast_subscriber(0));

    // A raw publisher that sends half a segment and vanishes.
    auto connection = co_await net::HttpClientConnection::connect(ex, test::parse_url(url + "/0"), 5s);
    BOOST_REQUIRE(connection);
    net::HttpHeaders headers{{"Content-Type", "video/mp2t"}};
    BOOST_REQUIRE(co_await (*connection)->send_head("POST", "/dying/0", std::move(headers), net::BodyMode::chunked));
    auto half = test::random_bytes(40'000, 5);
    BOOST_REQUIRE(co_await (*connection)->send_body(half));
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    (*connection)->close();
    BOOST_TEST((co_await test::read_all(*segment) == half));

    protocol::TricklePublisher publisher(ex, url, protocol::PublisherOptions{.start_seq = 1});
    auto next = test::random_bytes(10'000, 6);
    co_await test::publish(publisher, next, 4096);
    auto following = co_await subscriber.next();
    BOOST_REQUIRE(following);
    BOOST_TEST(following->seq() == 1);
    BOOST_TEST((co_await test::read_all(*following) == next));
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(relay_restart_under_a_live_subscriber) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::uint16_t port = 0;
    std::vector<std::string> errors;
    auto options = fast_subscriber(0);
    options.retry_delay = 100ms;
    std::unique_ptr<protocol::TrickleSubscriber> subscriber;
    std::unique_ptr<protocol::TricklePublisher> first_publisher;  // outlives its relay, as a crash leaves it
    {
      TestRelay first(ex);
      port = first.server.port();
      create_channel(first, "live");
      first_publisher = std::make_unique<protocol::TricklePublisher>(ex, first.url("live"));
      co_await test::publish(*first_publisher, test::random_bytes(1000, 1), 1000);
      subscriber = std::make_unique<protocol::TrickleSubscriber>(
          ex, first.url("live"), options, [&](std::string_view kind, std::string_view) { errors.emplace_back(kind); });
      auto segment = co_await subscriber->next();
      BOOST_REQUIRE(segment);
      co_await test::read_all(*segment);
      // The GET for seq 1 is now pre-connected; the relay goes away under it.
    }
    first_publisher.reset();
    // A new relay on the same port, with the channel and a restarted publisher (seq 0 again):
    // the subscriber reconnects, re-syncs to the new live edge through a 470, and goes on.
    TestRelay second(ex, {}, port);
    second.server.create_channel("live", "video/mp2t");  // before the subscriber's retry can land
    protocol::TricklePublisher publisher(ex, second.url("live"));
    // The subscriber re-joins at the new relay's live edge, wherever that is when its retry lands,
    // so segments keep coming until it has one; what it got must be what was sent at that seq.
    test::TaskGroup group(ex);
    Bytes got;
    std::int64_t got_seq = -1;
    group.spawn(
        test::read_next_segment(*subscriber, got, got_seq, "the subscriber did not come back after the restart"));
    std::map<std::int64_t, Bytes> sent;
    for (int i = 0; i < 50 && got_seq < 0; ++i) {
      auto data = test::random_bytes(2000, 100 + i);
      auto seq = co_await test::publish(publisher, data, 500);
      sent[seq] = std::move(data);
      co_await net::sleep_for(50ms);
    }
    co_await group.wait();
    BOOST_REQUIRE(sent.count(got_seq));
    BOOST_TEST((got == sent[got_seq]));
    BOOST_TEST(errors.empty());
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(relay_gone_for_good_is_reported_not_hung) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::string> errors;
    auto options = fast_subscriber(0);
    std::unique_ptr<protocol::TrickleSubscriber> subscriber;
    {
      TestRelay relay(ex);
      create_channel(relay, "gone");
      subscriber = std::make_unique<protocol::TrickleSubscriber>(
          ex, relay.url("gone"), options, [&](std::string_view kind, std::string_view) { errors.emplace_back(kind); });
      protocol::TricklePublisher publisher(ex, relay.url("gone"));
      co_await test::publish(publisher, test::random_bytes(100, 1), 100);
      auto segment = co_await subscriber->next();
      BOOST_REQUIRE(segment);
      // No close(): the publisher and the relay vanish together, mid-stream.
    }
    BOOST_TEST(!(co_await subscriber->next()));
    BOOST_REQUIRE_EQUAL(errors.size(), 1u);
    BOOST_TEST(errors[0] == "max_retries_exceeded");
  });
}

BOOST_AUTO_TEST_CASE(idle_pre_connected_post_gets_interim_keepalives) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    protocol::RelayOptions options;
    options.autocreate = true;
    options.post_keepalive = 100ms;
    TestRelay relay(ex, options);
    auto connection = co_await net::HttpClientConnection::connect(ex, test::parse_url(relay.url("ka")), 5s);
    BOOST_REQUIRE(connection);
    auto& c = **connection;
    net::HttpHeaders headers{{"Content-Type", "video/mp2t"}};
    BOOST_REQUIRE(co_await c.send_head("POST", "/ka/0", std::move(headers), net::BodyMode::chunked));
    co_await net::sleep_for(350ms);  // no data yet: the relay keeps the POST alive with 100s
    auto data = test::random_bytes(1000, 1);
    BOOST_REQUIRE(co_await c.send_body(data));
    BOOST_REQUIRE(co_await c.finish_body());
    auto head = co_await c.read_response_head(5s);
    BOOST_REQUIRE(head);
    BOOST_TEST(head->status == 200);
    BOOST_TEST(head->headers.get("Lp-Trickle-Seq").value_or("") == "0");
    BOOST_TEST(c.interim_responses() >= 2);
  });
}

BOOST_AUTO_TEST_CASE(create_next_and_content_type) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("meta");
    create_channel(relay, "meta");
    auto next = co_await test::request(url + "/next", "GET");
    BOOST_TEST(next.head.status == 200);
    BOOST_TEST(next.body == "0");
    BOOST_TEST(next.head.headers.get("Lp-Trickle-Latest").value_or("") == "0");
    protocol::TricklePublisher publisher(ex, url);
    co_await test::publish(publisher, test::random_bytes(10, 1), 10);
    co_await test::publish(publisher, test::random_bytes(10, 2), 10);
    next = co_await test::request(url + "/next", "GET");
    BOOST_TEST(next.body == "2");
    // Serving an older segment says where the live edge is.
    auto old = co_await test::request(url + "/0", "GET");
    BOOST_TEST(old.head.status == 200);
    BOOST_TEST(old.head.headers.get("Content-Type").value_or("") == "video/mp2t");
    BOOST_TEST(old.head.headers.get("Lp-Trickle-Seq").value_or("") == "0");
    BOOST_TEST(old.head.headers.get("Lp-Trickle-Latest").value_or("") == "2");
    auto current = co_await test::request(url + "/-2", "GET");
    BOOST_TEST(current.head.headers.get("Lp-Trickle-Seq").value_or("") == "1");
    BOOST_TEST(current.head.headers.get("Lp-Trickle-Latest").value_or("") == "2");  // as go-livepeer
    // Too far ahead: 470 with the edge and the seq asked for (go-livepeer's subscriber reads both).
    auto ahead = co_await test::request(url + "/7", "GET");
    BOOST_TEST(ahead.head.status == 470);
    BOOST_TEST(ahead.head.headers.get("Lp-Trickle-Latest").value_or("") == "2");
    BOOST_TEST(ahead.head.headers.get("Lp-Trickle-Seq").value_or("") == "7");
    auto missing = co_await test::request(relay.url("nope") + "/next", "GET");
    BOOST_TEST(missing.head.status == 404);
    // Closing the publisher ends its pre-connected POST empty: readers move past that seq.
    co_await publisher.close();
    next = co_await test::request(url + "/next", "GET");
    BOOST_TEST(next.body == "3");
  });
}

// `trickle publish --keep-open`: the publisher stops but the channel goes on. Its pre-connected
// POST is dropped, not ended empty, so a reader waiting on that seq gets no empty segment: it waits
// there, and gets the segment from whoever publishes it next.
BOOST_AUTO_TEST_CASE(a_publisher_leaving_the_channel_open_leaves_readers_waiting_for_the_next) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("handover");
    create_channel(relay, "handover");
    protocol::TrickleSubscriber subscriber(ex, url, fast_subscriber(0));
    protocol::TricklePublisher first(ex, url);
    co_await test::publish(first, test::random_bytes(500, 1), 500);
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    co_await test::read_all(*segment);
    co_await until_waited_on(relay.server, "handover", 1);  // the subscriber's pre-connected GET
    co_await first.close_leaving_channel_open();
    test::TaskGroup group(ex);
    Bytes got;
    std::int64_t got_seq = -1;
    group.spawn(test::read_next_segment(subscriber, got, got_seq));
    co_await net::sleep_for(200ms);
    BOOST_TEST(relay.server.find_channel("handover")->next_write() == 1);
    co_await until_waited_on(relay.server, "handover", 1);  // still waiting, no empty segment
    protocol::TricklePublisher second(ex, url, protocol::PublisherOptions{.start_seq = 1});
    auto next = test::random_bytes(700, 2);
    co_await test::publish(second, next, 100);
    co_await group.wait();
    BOOST_TEST(got_seq == 1);
    BOOST_TEST((got == next));
    BOOST_TEST(!subscriber.failed());
    co_await second.close();
  });
}

BOOST_AUTO_TEST_CASE(delete_segment_releases_a_waiting_reader) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("ds");
    create_channel(relay, "ds");
    test::TaskGroup group(ex);
    net::HttpResponse waited;
    test::spawn_get(group, url + "/0", waited);  // pre-created, waits
    co_await until_waited_on(relay.server, "ds", 0);
    auto deleted = co_await test::request(url + "/0", "DELETE");
    BOOST_TEST(deleted.head.status == 200);
    co_await group.wait();
    BOOST_TEST(waited.head.status == 470);
    BOOST_TEST(waited.head.headers.get("Lp-Trickle-Latest").value_or("") == "1");
    BOOST_TEST(waited.head.headers.get("Lp-Trickle-Seq").value_or("") == "0");
    auto unknown = co_await test::request(url + "/42", "DELETE");
    BOOST_TEST(unknown.head.status == 400);
  });
}

BOOST_AUTO_TEST_CASE(deleting_a_channel_answers_its_waiting_reader_as_go_livepeer_does) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("dc");
    create_channel(relay, "dc");
    test::TaskGroup group(ex);
    net::HttpResponse waited;
    test::spawn_get(group, url + "/0", waited);  // pre-created, waits
    co_await until_waited_on(relay.server, "dc", 0);
    auto deleted = co_await test::request(url, "DELETE");
    BOOST_TEST(deleted.head.status == 200);
    co_await group.wait();
    // 200 + Lp-Trickle-Closed, with the seq it waited on and the edge.
    BOOST_TEST(waited.head.status == 200);
    BOOST_TEST(waited.head.headers.get("Lp-Trickle-Closed").value_or("") == "terminated");
    BOOST_TEST(waited.head.headers.get("Lp-Trickle-Seq").value_or("") == "0");
    BOOST_TEST(waited.head.headers.contains("Lp-Trickle-Latest"));
    BOOST_TEST(waited.body.empty());
  });
}

BOOST_AUTO_TEST_CASE(reset_restarts_a_channel_and_releases_waiting_readers) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("rs");
    create_channel(relay, "rs");
    protocol::TricklePublisher publisher(ex, url);
    for (int i = 0; i < 3; ++i) co_await test::publish(publisher, test::random_bytes(10, i), 10);
    co_await publisher.close();
    test::TaskGroup group(ex);
    net::HttpResponse waited;
    test::spawn_get(group, url + "/-1", waited);  // waits on seq 4
    co_await until_waited_on(relay.server, "rs", 4);
    net::HttpHeaders reset{{"Lp-Trickle-Reset", "1"}};
    auto restarted = co_await test::request(url + "/0", "POST", std::move(reset), "again");
    BOOST_TEST(restarted.head.status == 200);
    co_await group.wait();
    BOOST_TEST(waited.head.status == 470);
    auto next = co_await test::request(url + "/next", "GET");
    BOOST_TEST(next.body == "1");
    auto fresh = co_await test::request(url + "/0", "GET");
    BOOST_TEST(fresh.body == "again");
  });
}

BOOST_AUTO_TEST_CASE(changes_feed_announces_channels) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    protocol::RelayOptions options;
    options.changes_feed = true;
    TestRelay relay(ex, options);
    protocol::TrickleSubscriber feed(ex, relay.url("_changes"), fast_subscriber(-1));
    test::TaskGroup group(ex);
    std::vector<std::string> events;
    group.spawn([](protocol::TrickleSubscriber& sub, std::vector<std::string>& out) -> net::awaitable<void> {
      for (int i = 0; i < 2; ++i) {
        auto segment = co_await sub.next();
        BOOST_REQUIRE(segment);
        auto bytes = co_await test::read_all(*segment);
        out.emplace_back(bytes.begin(), bytes.end());
      }
    }(feed, events));
    co_await until_waited_on(relay.server, "_changes", 0);
    create_channel(relay, "cam1");
    co_await test::request(relay.url("cam1"), "DELETE");
    co_await group.wait();
    BOOST_REQUIRE_EQUAL(events.size(), 2u);
    BOOST_TEST(events[0] == R"({"added":["cam1"]})");
    BOOST_TEST(events[1] == R"({"removed":["cam1"]})");
    auto reserved = co_await test::request(relay.url("_changes") + "/5", "POST", {}, "x");
    BOOST_TEST(reserved.head.status == 400);
  });
}

BOOST_AUTO_TEST_CASE(idle_channels_are_swept) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    protocol::RelayOptions options;
    options.idle_timeout = 150ms;
    options.sweep_interval = 30ms;
    TestRelay relay(ex, options);
    auto url = relay.url("idle");
    create_channel(relay, "idle");
    BOOST_TEST(relay.server.channel_count() == 1u);
    co_await net::sleep_for(400ms);
    BOOST_TEST(relay.server.channel_count() == 0u);
    auto gone = co_await test::request(url + "/next", "GET");
    BOOST_TEST(gone.head.status == 404);
  });
}

BOOST_AUTO_TEST_CASE(autocreate_and_its_absence) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay strict(ex);
    auto refused = co_await test::request(strict.url("nochan") + "/0", "POST", {}, "data");
    BOOST_TEST(refused.head.status == 404);
    protocol::RelayOptions options;
    options.autocreate = true;
    TestRelay open(ex, options);
    net::HttpHeaders type{{"Content-Type", "application/json"}};
    auto accepted = co_await test::request(open.url("auto") + "/0", "POST", std::move(type), "{}");
    BOOST_TEST(accepted.head.status == 200);
    auto read = co_await test::request(open.url("auto") + "/0", "GET");
    BOOST_TEST(read.body == "{}");
    BOOST_TEST(read.head.headers.get("Content-Type").value_or("") == "application/json");
  });
}

BOOST_AUTO_TEST_CASE(base_path_prefixes_every_route) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    protocol::RelayOptions options;
    options.base_path = "/live";
    options.autocreate = true;
    TestRelay relay(ex, options);
    auto posted = co_await test::request(relay.url("live/cam") + "/0", "POST", {}, "abc");
    BOOST_TEST(posted.head.status == 200);
    auto read = co_await test::request(relay.url("live/cam") + "/0", "GET");
    BOOST_TEST(read.body == "abc");
    auto outside = co_await test::request(relay.url("cam") + "/0", "GET");
    BOOST_TEST(outside.head.status == 404);
  });
}

BOOST_AUTO_TEST_SUITE_END()
