// Rows of docs/relay_conformance.md that go-livepeer's trickle server and clients answer in a way a
// peer can see: each case pins ours to the reference's answer (the row's number is in the name).

#include <boost/test/unit_test.hpp>

#include "relay_test_support.hpp"

using namespace trickle;
using namespace std::chrono_literals;
using test::create_channel;
using test::fast_subscriber;
using test::TestRelay;
using test::until_waited_on;

namespace {

std::string header(const net::HttpResponse& response, std::string_view name) {
  return std::string(response.head.headers.get(name).value_or(""));
}

// A POST whose body the test writes piece by piece, as a publisher streaming a segment.
struct RawPost {
  std::unique_ptr<net::HttpClientConnection> connection;

  static net::awaitable<RawPost> open(const std::string& url, std::string target) {
    auto ex = co_await asio::this_coro::executor;
    auto connection = co_await net::HttpClientConnection::connect(ex, test::parse_url(url), 5s);
    BOOST_REQUIRE(connection);
    net::HttpHeaders headers{{"Content-Type", "video/mp2t"}};
    BOOST_REQUIRE(co_await (*connection)->send_head("POST", target, std::move(headers), net::BodyMode::chunked));
    co_return RawPost{std::move(*connection)};
  }
  net::awaitable<void> send(const protocol::Bytes& bytes) { BOOST_REQUIRE(co_await connection->send_body(bytes)); }
  net::awaitable<net::ResponseHead> finish() {
    BOOST_REQUIRE(co_await connection->finish_body());
    auto head = co_await connection->read_response_head(5s);
    BOOST_REQUIRE(head);
    co_return std::move(*head);
  }
};

// Records the head of every request and answers it: a POST after reading its body (200, or
// nothing at all with `silent_posts`), a GET with one byte of segment 0.
struct RecordingServer {
  explicit RecordingServer(net::Executor ex)
      : server(ex, [this](net::ServerRequest& rq, net::ServerResponse& rs) { return handle(rq, rs); }) {
    BOOST_REQUIRE(server.listen("127.0.0.1", 0));
    server.start();
  }
  ~RecordingServer() { server.stop(); }

  net::awaitable<void> handle(net::ServerRequest& request, net::ServerResponse& response) {
    heads.push_back(request.head());
    net::HttpHeaders headers;  // (built outside co_await: GCC 12 mis-destroys braced lists there)
    headers.add("Lp-Trickle-Seq", "0");
    if (request.method() == "POST") {
      auto body = co_await request.read_all(1 << 20, 5s);
      if (silent_posts) {
        co_await net::sleep_for(10s);  // never answers within the publisher's timeout
        co_return;
      }
      co_await response.send(200, std::move(headers), "");
    } else {
      co_await response.send(200, std::move(headers), "x");
    }
  }
  std::string url(std::string_view path) const { return fmt::format("http://127.0.0.1:{}/{}", server.port(), path); }

  bool silent_posts = false;
  std::vector<net::RequestHead> heads;
  net::HttpServer server;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(relay_conformance)

// S11: a POST that ended with no body still made a segment: it is served as 200 with no body,
// both to a reader that was waiting on it and to one that asks afterwards.
BOOST_AUTO_TEST_CASE(s11_a_segment_posted_empty_is_a_200_with_no_body) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("empty");
    create_channel(relay, "empty");
    test::TaskGroup group(ex);
    net::HttpResponse waited;
    test::spawn_get(group, url + "/0", waited);
    co_await until_waited_on(relay.server, "empty", 0);
    auto posted = co_await test::request(url + "/0", "POST", {}, "");
    BOOST_TEST(posted.head.status == 200);
    co_await group.wait();
    BOOST_TEST(waited.head.status == 200);
    BOOST_TEST(header(waited, "Lp-Trickle-Seq") == "0");
    BOOST_TEST(waited.body.empty());
    auto later = co_await test::request(url + "/0", "GET");
    BOOST_TEST(later.head.status == 200);
    BOOST_TEST(header(later, "Lp-Trickle-Seq") == "0");
    BOOST_TEST(header(later, "Lp-Trickle-Latest") == "1");  // the empty end moved the write head
    BOOST_TEST(later.body.empty());
    // S12 stays: a segment closed by a DELETE before any byte is "not available".
    test::TaskGroup second(ex);
    net::HttpResponse released;
    test::spawn_get(second, url + "/1", released);
    co_await until_waited_on(relay.server, "empty", 1);
    BOOST_TEST((co_await test::request(url + "/1", "DELETE")).head.status == 200);
    co_await second.wait();
    BOOST_TEST(released.head.status == 470);
  });
}

// S14: POST -1 writes at the write head, and its answer says which seq that was.
BOOST_AUTO_TEST_CASE(s14_post_minus_one_writes_at_the_head) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("head");
    create_channel(relay, "head");
    BOOST_TEST((co_await test::request(url + "/0", "POST", {}, "zero")).head.status == 200);
    auto posted = co_await test::request(url + "/-1", "POST", {}, "one");
    BOOST_TEST(posted.head.status == 200);
    BOOST_TEST(header(posted, "Lp-Trickle-Seq") == "1");
    BOOST_TEST((co_await test::request(url + "/1", "GET")).body == "one");
  });
}

// S21 and S23: a deleted channel is forgotten at once. Every later request for it is a 404, and a
// second DELETE (like one of a channel that never existed) is go-livepeer's 400 "Invalid stream".
BOOST_AUTO_TEST_CASE(s21_s23_a_deleted_channel_is_gone) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    protocol::RelayOptions options;
    options.changes_feed = true;
    TestRelay relay(ex, options);
    auto url = relay.url("done");
    create_channel(relay, "done");
    BOOST_TEST((co_await test::request(url + "/0", "POST", {}, "data")).head.status == 200);
    auto deleted = co_await test::request(url, "DELETE");
    BOOST_TEST(deleted.head.status == 200);
    BOOST_TEST(relay.server.channel_count() == 0u);
    BOOST_TEST((co_await test::request(url + "/0", "GET")).head.status == 404);
    BOOST_TEST((co_await test::request(url + "/-1", "GET")).head.status == 404);
    BOOST_TEST((co_await test::request(url + "/next", "GET")).head.status == 404);
    BOOST_TEST((co_await test::request(url + "/0", "DELETE")).head.status == 404);
    BOOST_TEST((co_await test::request(url + "/1", "POST", {}, "late")).head.status == 404);
    auto again = co_await test::request(url, "DELETE");
    BOOST_TEST(again.head.status == 400);
    BOOST_TEST(again.body == "Invalid stream\n");
    BOOST_TEST((co_await test::request(relay.url("never"), "DELETE")).head.status == 400);
    // The change feed is the relay's own: it cannot be deleted.
    BOOST_TEST((co_await test::request(relay.url("_changes"), "DELETE")).head.status == 400);
  });
}

// S25: a DELETE while a POST is sending data ends the segment for its readers, but the relay
// reads the POST to its end and answers a plain 200 (no Lp-Trickle-Closed): go-livepeer's
// publisher would take anything else for a lost segment.
BOOST_AUTO_TEST_CASE(s25_a_post_cut_by_a_delete_is_read_to_its_end_and_answered_200) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    for (std::string what : {"segment", "channel"}) {
      auto name = "cut-" + what;
      auto url = relay.url(name);
      create_channel(relay, name);
      auto post = co_await RawPost::open(url, "/" + name + "/0");
      auto first = test::random_bytes(3000, 1);
      co_await post.send(first);
      BOOST_REQUIRE(co_await test::eventually([&] { return relay.server.find_channel(name)->next_write() == 1; }, 5s));
      auto target = what == "segment" ? url + "/0" : url;
      BOOST_TEST((co_await test::request(target, "DELETE")).head.status == 200);
      co_await post.send(test::random_bytes(5000, 2));  // read and dropped
      auto answer = co_await post.finish();
      BOOST_TEST(answer.status == 200, what);
      BOOST_TEST(answer.headers.get("Lp-Trickle-Seq").value_or("") == "0", what);
      BOOST_TEST(!answer.headers.contains("Lp-Trickle-Closed"), what);
      if (what == "segment") {
        auto read = co_await test::request(url + "/0", "GET");  // what came before the DELETE only
        BOOST_TEST((protocol::Bytes(read.body.begin(), read.body.end()) == first));
      }
    }
  });
}

// S26: without autocreate, channels are the owner's to make: POST /{ch} is a 404, and so is the
// POST of a segment that follows. With autocreate both work. On a channel that exists, POST /{ch}
// is a 200 either way (it only fills in a missing mime type).
BOOST_AUTO_TEST_CASE(s26_creating_a_channel_over_http_needs_autocreate) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay strict(ex);
    net::HttpHeaders expect{{"Expect-Content", "video/mp2t"}};
    BOOST_TEST((co_await test::request(strict.url("mine"), "POST", expect)).head.status == 404);
    BOOST_TEST((co_await test::request(strict.url("mine") + "/0", "POST", {}, "data")).head.status == 404);
    BOOST_TEST(strict.server.channel_count() == 0u);
    strict.server.create_channel("owned");
    BOOST_TEST((co_await test::request(strict.url("owned"), "POST", expect)).head.status == 200);
    BOOST_TEST(strict.server.find_channel("owned")->mime_type() == "video/mp2t");

    protocol::RelayOptions options;
    options.autocreate = true;
    TestRelay open(ex, options);
    BOOST_TEST((co_await test::request(open.url("mine"), "POST", expect)).head.status == 200);
    BOOST_TEST((co_await test::request(open.url("mine") + "/0", "POST", {}, "data")).head.status == 200);
  });
}

// P7: the owner ends a stream as go-livepeer's publisher does, DELETE first. A reader waiting on
// the pre-connected seq gets the end of the stream directly, not an empty last segment.
BOOST_AUTO_TEST_CASE(p7_closing_with_delete_gives_waiting_readers_the_end_directly) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("owner");
    create_channel(relay, "owner");
    protocol::TricklePublisher publisher(ex, url);
    co_await test::publish(publisher, test::random_bytes(1000, 1), 500);
    test::TaskGroup group(ex);
    net::HttpResponse waited;
    test::spawn_get(group, url + "/1", waited);
    co_await until_waited_on(relay.server, "owner", 1);
    BOOST_TEST(co_await publisher.close_and_delete_channel());
    co_await group.wait();
    BOOST_TEST(waited.head.status == 200);
    BOOST_TEST(header(waited, "Lp-Trickle-Closed") == "terminated");
    BOOST_TEST(header(waited, "Lp-Trickle-Seq") == "1");
    BOOST_TEST(relay.server.channel_count() == 0u);
  });
}

// P4: a publisher stops posting into a channel the relay says is gone. A 404 is reported as
// PyTrickle reports it (post_failed); Lp-Trickle-Closed is the end of the stream, not an error.
BOOST_AUTO_TEST_CASE(p4_a_publisher_stops_at_404_and_at_closed) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    std::vector<std::string> errors;
    auto on_error = [&](std::string_view kind, std::string_view) { errors.emplace_back(kind); };
    protocol::TricklePublisher lost(ex, relay.url("nobody"), {}, on_error);
    auto writer = co_await lost.next();
    BOOST_TEST(!(co_await writer->close()));
    BOOST_TEST(lost.channel_gone());
    // Segment 0 and the pre-connected segment 1 may each have been refused; nothing after them.
    BOOST_TEST((!errors.empty() && errors.size() <= 2u));
    for (const auto& kind : errors) BOOST_TEST(kind == "post_failed");
    auto reported = errors.size();
    for (int i = 0; i < 3; ++i) {
      auto inert = co_await lost.next();
      BOOST_TEST(inert->seq() == -1);
      BOOST_TEST(!(co_await inert->write(test::random_bytes(10, i))));
    }
    co_await net::sleep_for(100ms);
    BOOST_TEST(errors.size() == reported);

    errors.clear();
    create_channel(relay, "ending");
    protocol::TricklePublisher ending(ex, relay.url("ending"), {}, on_error);
    co_await test::publish(ending, test::random_bytes(100, 1), 100);
    BOOST_TEST((co_await test::request(relay.url("ending"), "DELETE")).head.status == 200);
    BOOST_TEST(co_await test::eventually([&] { return ending.channel_gone(); }, 5s));
    BOOST_TEST((co_await ending.next())->seq() == -1);
    BOOST_TEST(errors.empty());
  });
}

// P3, P9, C9: the heads our clients send. Segment POSTs carry the channel's Content-Type and
// `Connection: close` (PyTrickle's headers; go-livepeer's client keeps connections alive, which a
// relay cannot tell from ours), never Lp-Trickle-Reset; GETs carry `Connection: close` too.
BOOST_AUTO_TEST_CASE(p3_p9_c9_the_request_heads_our_clients_send) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    RecordingServer server(ex);
    protocol::PublisherOptions options;
    options.mime_type = "video/mp2t";
    protocol::TricklePublisher publisher(ex, server.url("out"), options);
    co_await test::publish(publisher, test::random_bytes(100, 1), 50);
    co_await publisher.close();
    protocol::TrickleSubscriber subscriber(ex, server.url("in"), fast_subscriber(0));
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    subscriber.close();
    int posts = 0, gets = 0;
    for (const auto& head : server.heads) {
      BOOST_TEST(head.headers.get("Connection").value_or("") == "close", head.method << " " << head.target);
      BOOST_TEST(!head.headers.contains("Lp-Trickle-Reset"));
      if (head.method == "POST") {
        ++posts;
        BOOST_TEST(head.headers.get("Content-Type").value_or("") == "video/mp2t");
        BOOST_TEST(head.headers.get("Transfer-Encoding").value_or("") == "chunked");
      } else if (head.method == "GET") {
        ++gets;
      }
    }
    BOOST_TEST(posts >= 2);  // segment 0 and the pre-connected segment 1
    BOOST_TEST(gets >= 1);
    BOOST_TEST(server.heads.front().target == "/out/0");
  });
}

// P6: go-livepeer's publisher may wait for ever for a POST's answer; ours waits connect_timeout
// after the body ends, then reports the segment as not accepted.
BOOST_AUTO_TEST_CASE(p6_a_post_answer_that_never_comes_is_bounded) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    RecordingServer server(ex);
    server.silent_posts = true;
    protocol::PublisherOptions options;
    options.connect_timeout = 300ms;
    protocol::TricklePublisher publisher(ex, server.url("out"), options);
    auto writer = co_await publisher.next();
    BOOST_REQUIRE(co_await writer->write(test::random_bytes(100, 1)));
    auto started = net::Clock::now();
    BOOST_TEST(!(co_await writer->close()));
    auto waited = net::Clock::now() - started;
    BOOST_TEST((waited >= 250ms && waited < 5s));
  });
}

// P8: a segment writer dropped without close() still ends its POST, so readers of that segment
// get what was written and its end at once (go-livepeer's publisher sends a seq DELETE instead;
// the reader sees the end either way).
BOOST_AUTO_TEST_CASE(p8_a_dropped_writer_ends_its_segment_for_readers) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("dropped");
    create_channel(relay, "dropped");
    protocol::TricklePublisher publisher(ex, url);
    protocol::TrickleSubscriber subscriber(ex, url, fast_subscriber(0));
    auto part = test::random_bytes(2000, 4);
    {
      auto writer = co_await publisher.next();
      BOOST_REQUIRE(co_await writer->write(part));
    }
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    BOOST_TEST((co_await test::read_all(*segment) == part));
    BOOST_TEST(segment->seq() == 0);
    co_await publisher.close();
  });
}

// S34: stopping the relay closes every channel: a reader waiting on a segment is answered with the
// end of the stream (go-livepeer's clearAllStreams closes them the same way), and the port closes.
BOOST_AUTO_TEST_CASE(s34_stopping_the_relay_ends_waiting_readers) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto relay = std::make_unique<TestRelay>(ex);
    auto url = relay->url("stopping");
    create_channel(*relay, "stopping");
    test::TaskGroup group(ex);
    std::optional<net::HttpResult<net::HttpResponse>> waited;
    group.spawn([](std::string u, std::optional<net::HttpResult<net::HttpResponse>>& out) -> net::awaitable<void> {
      auto executor = co_await asio::this_coro::executor;
      out = co_await net::http_request(executor, test::parse_url(u + "/0"), "GET", {}, {});
    }(url, waited));
    co_await until_waited_on(relay->server, "stopping", 0);
    relay->server.stop();
    co_await group.wait();
    BOOST_REQUIRE(waited.has_value());
    BOOST_REQUIRE_MESSAGE(*waited, "the waiting GET got no answer: " << (*waited ? "" : (*waited).error().message));
    BOOST_TEST((**waited).head.status == 200);
    BOOST_TEST((**waited).head.headers.get("Lp-Trickle-Closed").value_or("") == "terminated");
    auto port = relay->server.port();
    relay.reset();
    auto after = co_await net::http_request(ex, test::parse_url(fmt::format("http://127.0.0.1:{}/stopping/0", port)),
                                            "GET", {}, {});
    BOOST_TEST(!after);
  });
}

// S2: a seq is read as go-livepeer's strconv.Atoi reads it: "+2" is 2, "+-2" and "2x" are 400.
BOOST_AUTO_TEST_CASE(s2_seqs_are_read_as_go_reads_them) {
  BOOST_TEST(protocol::parse_seq("+2").value_or(-99) == 2);
  BOOST_TEST(protocol::parse_seq("-2").value_or(-99) == -2);
  BOOST_TEST(protocol::parse_seq("007").value_or(-99) == 7);
  for (std::string_view bad : {"", "+", "-", "+-2", "++2", "2x", " 2", "0x10", "1.5", "99999999999999999999"})
    BOOST_TEST(!protocol::parse_seq(bad), bad);
  auto route = protocol::parse_relay_route("/live/cam/+3", protocol::normalise_base_path("live"));
  BOOST_REQUIRE(route);
  BOOST_TEST(route->channel == "cam");
  BOOST_TEST((route->kind == protocol::RelayRoute::Kind::segment && route->seq_valid && route->seq == 3));
  BOOST_TEST(!protocol::parse_relay_route("/other/cam/3", "/live/"));
  BOOST_TEST(!protocol::parse_relay_route("/live/cam/3/4", "/live/"));
  BOOST_TEST(!protocol::parse_relay_route("/live//3", "/live/"));
}

// S3: negative seqs the reference does not handle (it panics and drops the connection) get an
// answer here: GET -3 is 470, POST -2 and a DELETE of -1 are 400.
BOOST_AUTO_TEST_CASE(s3_other_negative_seqs_are_answered) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestRelay relay(ex);
    auto url = relay.url("neg");
    create_channel(relay, "neg");
    auto get = co_await test::request(url + "/-3", "GET");
    BOOST_TEST(get.head.status == 470);
    BOOST_TEST(header(get, "Lp-Trickle-Latest") == "0");
    BOOST_TEST((co_await test::request(url + "/-2", "POST", {}, "x")).head.status == 400);
    BOOST_TEST((co_await test::request(url + "/-1", "DELETE")).head.status == 400);
  });
}

BOOST_AUTO_TEST_SUITE_END()
