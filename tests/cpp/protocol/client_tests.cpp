// The clients' state machines against scripted servers: every retry path and error kind.

#include <deque>

#include <boost/test/unit_test.hpp>

#include "relay_test_support.hpp"

using namespace trickle;
using namespace std::chrono_literals;

namespace {

// A server that answers GETs from a script: one (status, headers, body) per request, then 404s.
struct ScriptedServer {
  struct Answer {
    int status;
    net::HttpHeaders headers;
    std::string body;
  };

  explicit ScriptedServer(net::Executor ex)
      : server(ex, [this](net::ServerRequest& rq, net::ServerResponse& rs) { return handle(rq, rs); }) {
    BOOST_REQUIRE(server.listen("127.0.0.1", 0));
    server.start();
  }
  ~ScriptedServer() { server.stop(); }

  net::awaitable<void> handle(net::ServerRequest& request, net::ServerResponse& response) {
    targets.emplace_back(request.head().target);
    Answer answer{404, {}, "no more script"};
    if (!script.empty()) {
      answer = std::move(script.front());
      script.pop_front();
    }
    co_await response.send(answer.status, std::move(answer.headers), answer.body);
  }

  std::string url(std::string_view path) const { return fmt::format("http://127.0.0.1:{}/{}", server.port(), path); }

  std::deque<Answer> script;
  std::vector<std::string> targets;
  net::HttpServer server;
};

protocol::SubscriberOptions quick(std::int64_t start_seq = -2) {
  protocol::SubscriberOptions options;
  options.start_seq = start_seq;
  options.retry_delay = 10ms;
  options.connect_timeout = 2s;
  return options;
}

std::uint16_t unused_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();  // closed again when we return: nothing listens there
}

net::HttpHeaders seq_header(int seq) { return net::HttpHeaders{{"Lp-Trickle-Seq", std::to_string(seq)}}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(subscriber_client)

BOOST_AUTO_TEST_CASE(retries_other_failures_then_succeeds) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    ScriptedServer server(ex);
    server.script.push_back({503, {}, "busy"});
    server.script.push_back({500, {}, "oops"});
    server.script.push_back({200, seq_header(7), "payload"});
    std::vector<std::string> errors;
    protocol::TrickleSubscriber subscriber(ex, server.url("c"), quick(),
                                           [&](std::string_view k, std::string_view) { errors.emplace_back(k); });
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    BOOST_TEST(segment->seq() == 7);
    auto bytes = co_await test::read_all(*segment);
    BOOST_TEST(std::string(bytes.begin(), bytes.end()) == "payload");
    BOOST_TEST(errors.empty());
    BOOST_TEST(subscriber.next_seq() == 8);
    BOOST_TEST(server.targets.at(0) == "/c/-2");
    BOOST_TEST(server.targets.at(2) == "/c/-2");
    subscriber.close();
  });
}

BOOST_AUTO_TEST_CASE(follows_470_to_latest_without_waiting) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    ScriptedServer server(ex);
    server.script.push_back({470, net::HttpHeaders{{"Lp-Trickle-Latest", "12"}}, ""});
    server.script.push_back({470, {}, ""});  // no Latest: go to the live edge
    server.script.push_back({200, seq_header(13), "x"});
    protocol::TrickleSubscriber subscriber(ex, server.url("c"), quick(3));
    auto segment = co_await subscriber.next();
    BOOST_REQUIRE(segment);
    BOOST_TEST(server.targets.at(0) == "/c/3");
    BOOST_TEST(server.targets.at(1) == "/c/12");
    BOOST_TEST(server.targets.at(2) == "/c/-1");
    subscriber.close();
  });
}

BOOST_AUTO_TEST_CASE(gives_up_after_max_retries) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    ScriptedServer server(ex);
    for (int i = 0; i < 10; ++i) server.script.push_back({500, {}, "down"});
    std::vector<std::string> errors;
    auto options = quick();
    options.max_retries = 3;
    protocol::TrickleSubscriber subscriber(ex, server.url("c"), options,
                                           [&](std::string_view k, std::string_view) { errors.emplace_back(k); });
    BOOST_TEST(!(co_await subscriber.next()));
    BOOST_TEST(server.targets.size() == 3u);
    BOOST_REQUIRE_EQUAL(errors.size(), 1u);
    BOOST_TEST(errors[0] == "max_retries_exceeded");
    BOOST_TEST(subscriber.failed());
    BOOST_TEST(!(co_await subscriber.next()));  // stays ended
  });
}

// C6: a 470 re-syncs at once but uses an attempt (as in PyTrickle and go-livepeer's live-video
// code), so a relay answering nothing else ends the subscriber, saying why.
BOOST_AUTO_TEST_CASE(a_run_of_470s_uses_up_the_attempts_and_says_so) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    ScriptedServer server(ex);
    for (int i = 0; i < 10; ++i) server.script.push_back({470, net::HttpHeaders{{"Lp-Trickle-Latest", "9"}}, ""});
    std::vector<std::string> errors, messages;
    auto options = quick();
    options.max_retries = 4;
    options.retry_delay = 2s;  // not used between 470s
    protocol::TrickleSubscriber subscriber(ex, server.url("c"), options, [&](std::string_view k, std::string_view m) {
      errors.emplace_back(k);
      messages.emplace_back(m);
    });
    auto started = net::Clock::now();
    BOOST_TEST(!(co_await subscriber.next()));
    BOOST_TEST((net::Clock::now() - started < 1s));
    BOOST_TEST(server.targets.size() == 4u);
    BOOST_REQUIRE_EQUAL(errors.size(), 1u);
    BOOST_TEST(errors[0] == "max_retries_exceeded");
    BOOST_TEST(messages[0].find("470") != std::string::npos, messages[0]);
    BOOST_TEST(messages[0].find("edge is at 9") != std::string::npos, messages[0]);
  });
}

// C8: a GET whose segment does not start within connect_timeout is a failed attempt, as in
// PyTrickle (whose 30 s total timeout covers the wait); go-livepeer's subscriber would re-ask for
// ever. A paused input therefore ends after max_retries such waits.
BOOST_AUTO_TEST_CASE(a_segment_that_never_starts_uses_up_the_attempts) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    test::TestRelay relay(ex);
    test::create_channel(relay, "paused");
    std::vector<std::string> errors;
    auto options = quick(0);
    options.max_retries = 3;
    options.connect_timeout = 150ms;
    protocol::TrickleSubscriber subscriber(ex, relay.url("paused"), options,
                                           [&](std::string_view k, std::string_view) { errors.emplace_back(k); });
    auto started = net::Clock::now();
    BOOST_TEST(!(co_await subscriber.next()));
    BOOST_TEST((net::Clock::now() - started >= 3 * 150ms));
    BOOST_REQUIRE_EQUAL(errors.size(), 1u);
    BOOST_TEST(errors[0] == "max_retries_exceeded");
  });
}

BOOST_AUTO_TEST_CASE(nothing_listening_is_max_retries_exceeded) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::string> errors;
    protocol::TrickleSubscriber subscriber(ex, fmt::format("http://127.0.0.1:{}/c", unused_port()), quick(),
                                           [&](std::string_view k, std::string_view) { errors.emplace_back(k); });
    BOOST_TEST(!(co_await subscriber.next()));
    BOOST_REQUIRE_EQUAL(errors.size(), 1u);
    BOOST_TEST(errors[0] == "max_retries_exceeded");
  });
}

BOOST_AUTO_TEST_CASE(closed_header_is_end_of_stream) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    ScriptedServer server(ex);
    server.script.push_back({200, net::HttpHeaders{{"Lp-Trickle-Closed", "terminated"}}, ""});
    std::vector<std::string> errors;
    protocol::TrickleSubscriber subscriber(ex, server.url("c"), quick(),
                                           [&](std::string_view k, std::string_view) { errors.emplace_back(k); });
    BOOST_TEST(!(co_await subscriber.next()));
    BOOST_TEST(errors.empty());
    BOOST_TEST(!subscriber.failed());
  });
}

BOOST_AUTO_TEST_CASE(close_while_waiting_returns_promptly) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    test::TestRelay relay(ex);
    test::create_channel(relay, "w");
    protocol::TrickleSubscriber subscriber(ex, relay.url("w"), quick());
    test::TaskGroup group(ex);
    bool ended = false;
    group.spawn([](protocol::TrickleSubscriber& s, bool& done) -> net::awaitable<void> {
      BOOST_TEST(!(co_await s.next()));
      done = true;
    }(subscriber, ended));
    co_await net::sleep_for(50ms);
    auto started = net::Clock::now();
    subscriber.close();
    co_await group.wait();
    BOOST_TEST(ended);
    BOOST_TEST((net::Clock::now() - started < 500ms));
  });
}

BOOST_AUTO_TEST_CASE(bad_url_is_rejected_up_front) {
  asio::io_context io;
  BOOST_CHECK_THROW(protocol::TrickleSubscriber(io.get_executor(), "ftp://x/y"), std::invalid_argument);
  BOOST_CHECK_THROW(protocol::TricklePublisher(io.get_executor(), "not a url"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(an_error_callback_that_throws_fails_the_subscriber_instead_of_hanging) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    ScriptedServer server(ex);  // answers 404: the subscriber reports stream_not_found
    int calls = 0;
    protocol::TrickleSubscriber subscriber(ex, server.url("c"), quick(), [&](std::string_view, std::string_view) {
      ++calls;
      throw std::runtime_error("the callback broke");
    });
    auto started = net::Clock::now();
    BOOST_TEST(!(co_await subscriber.next()));  // the GET's coroutine threw: next() still returns
    BOOST_TEST((net::Clock::now() - started < 2s));
    BOOST_TEST(calls == 1);
    BOOST_TEST(subscriber.failed());
    BOOST_TEST(!(co_await subscriber.next()));
  });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(publisher_client)

// A segment's coroutines (opening the POST, awaiting its answer) throw through an error
// callback that throws: the segment fails and every wait on it ends.
BOOST_AUTO_TEST_CASE(an_error_callback_that_throws_fails_the_segment_instead_of_hanging) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto throwing = [](std::string_view kind, std::string_view) { throw std::runtime_error(std::string(kind)); };
    auto started = net::Clock::now();
    // Opening: nothing listens, connection_failed is reported, the callback throws.
    protocol::TricklePublisher unreachable(ex, fmt::format("http://127.0.0.1:{}/c", unused_port()), {}, throwing);
    auto writer = co_await unreachable.next();
    BOOST_TEST(!(co_await writer->write(test::random_bytes(10, 1))));
    BOOST_TEST(!(co_await writer->close()));
    co_await unreachable.close();
    // Answering: the relay refuses the POST (no such channel), post_failed throws.
    test::TestRelay relay(ex);
    protocol::TricklePublisher refused(ex, relay.url("nochan"), {}, throwing);
    auto refused_writer = co_await refused.next();
    co_await refused_writer->write(test::random_bytes(100, 2));
    BOOST_TEST(!(co_await refused_writer->close()));
    co_await refused.close();
    BOOST_TEST((net::Clock::now() - started < 5s));
  });
}

BOOST_AUTO_TEST_CASE(refused_post_reports_post_failed) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    test::TestRelay relay(ex);  // no autocreate: POSTs to an unknown channel get 404
    std::vector<std::string> errors;
    protocol::TricklePublisher publisher(ex, relay.url("nochan"), {},
                                         [&](std::string_view k, std::string_view) { errors.emplace_back(k); });
    auto writer = co_await publisher.next();
    co_await writer->write(test::random_bytes(100, 1));
    BOOST_TEST(!(co_await writer->close()));
    BOOST_REQUIRE(!errors.empty());
    BOOST_TEST(errors[0] == "post_failed");
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(nothing_listening_reports_connection_failed) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::string> errors;
    protocol::TricklePublisher publisher(ex, fmt::format("http://127.0.0.1:{}/c", unused_port()), {},
                                         [&](std::string_view k, std::string_view) { errors.emplace_back(k); });
    auto writer = co_await publisher.next();
    BOOST_TEST(!(co_await writer->write(test::random_bytes(10, 1))));
    BOOST_TEST(!(co_await writer->close()));
    BOOST_REQUIRE(!errors.empty());
    BOOST_TEST(errors[0] == "connection_failed");
    co_await publisher.close();
  });
}

BOOST_AUTO_TEST_CASE(pre_connects_the_next_segment_and_recovers_after_a_failure) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    protocol::RelayOptions options;
    options.autocreate = true;
    test::TestRelay relay(ex, options);
    protocol::TricklePublisher publisher(ex, relay.url("p"));
    auto first = co_await publisher.next();
    BOOST_TEST(first->seq() == 0);
    BOOST_TEST(publisher.next_seq() == 1);
    // The POST for seq 1 is already open at the relay, before any byte of it exists.
    while (relay.server.http().connection_count() < 2) co_await net::sleep_for(5ms);
    BOOST_REQUIRE(co_await first->write(test::random_bytes(10, 1)));
    BOOST_REQUIRE(co_await first->close());
    auto second = co_await publisher.next();
    BOOST_TEST(second->seq() == 1);
    BOOST_REQUIRE(co_await second->write(test::random_bytes(10, 2)));
    BOOST_REQUIRE(co_await second->close());
    co_await publisher.close();
    // After close, writers are inert.
    auto after = co_await publisher.next();
    BOOST_TEST(!(co_await after->write(test::random_bytes(1, 1))));
  });
}

BOOST_AUTO_TEST_CASE(close_ends_open_segments_without_losing_their_tail) {
  test::run_async([]() -> net::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    protocol::RelayOptions options;
    options.autocreate = true;
    test::TestRelay relay(ex, options);
    protocol::TricklePublisher publisher(ex, relay.url("t"));
    auto writer = co_await publisher.next();
    auto data = test::random_bytes(100'000, 4);
    BOOST_REQUIRE(co_await writer->write(data));
    co_await publisher.close();  // the caller never closed the writer
    auto read = co_await test::request(relay.url("t") + "/0", "GET");
    BOOST_TEST(read.head.status == 200);
    BOOST_TEST((protocol::Bytes(read.body.begin(), read.body.end()) == data));
  });
}

BOOST_AUTO_TEST_SUITE_END()
