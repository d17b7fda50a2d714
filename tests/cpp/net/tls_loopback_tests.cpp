// https:// over loopback: our server with a certificate made at test time, our client, and the
// ways the two can be mismatched (verification, a stalled handshake, plain HTTP on one side and
// TLS on the other). Every failure must be a clear error within its deadline, never a hang.

#include <cstdlib>
#include <string>

#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"
#include "loopback_server.hpp"
#include "raw_tcp_client.hpp"
#include "tls_test_certificates.hpp"
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
using net::TlsClientOptions;

using test::Bytes;
using test::echo_handler;
using test::error_of;
using test::eventually;
using test::TestServer;

namespace {

net::TlsServerOptions loopback_tls() {
  const auto& made = test::loopback_certificate();
  return {made.cert_file, made.key_file};
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// (Callers pass named options: GCC 12 mishandles temporaries inside co_await expressions.)
awaitable<net::HttpResult<std::unique_ptr<HttpClientConnection>>> connect_with(const net::Url& url,
                                                                               const TlsClientOptions& tls,
                                                                               Clock::duration timeout = 5s) {
  auto executor = co_await asio::this_coro::executor;
  co_return co_await HttpClientConnection::connect(executor, url, timeout, {}, tls);
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  const char* name_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_loopback)

BOOST_AUTO_TEST_CASE(bodies_stream_both_ways_over_tls_with_keep_alive) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler, {}, loopback_tls());
    BOOST_TEST(server.url().to_string().starts_with("https://"));
    auto client = co_await test::connect(server);
    BOOST_TEST(client->connection().secure());

    // A chunked body echoed while it is still being sent, in pieces of many sizes (several TLS
    // records each, and pieces smaller than one), then a Content-Length one on the same connection.
    const Bytes data = test::random_bytes(3 * 1024 * 1024 + 5, 7);
    HttpHeaders headers;
    BOOST_REQUIRE(co_await client->send_head("POST", "/stream", std::move(headers), BodyMode::chunked));
    Bytes echoed;
    auto receive = [&]() -> awaitable<void> {
      auto head = co_await client->read_response_head(5s);
      BOOST_REQUIRE_MESSAGE(head, error_of(head));
      BOOST_TEST(head->status == 200);
      echoed = co_await test::read_body(*client);
    };
    auto send = [&]() -> awaitable<void> {
      std::size_t at = 0;
      for (std::size_t piece : {1ul, 7ul, 16384ul, 16385ul, 100'000ul, 3ul}) {
        for (int i = 0; i < 8 && at < data.size(); ++i) {
          auto n = std::min(piece, data.size() - at);
          BOOST_REQUIRE(co_await client->send_body(std::span<const std::uint8_t>(data.data() + at, n)));
          at += n;
        }
      }
      if (at < data.size())
        BOOST_REQUIRE(co_await client->send_body(std::span<const std::uint8_t>(data.data() + at, data.size() - at)));
      BOOST_REQUIRE(co_await client->finish_body());
    };
    co_await (send() && receive());
    BOOST_TEST(echoed.size() == data.size());
    BOOST_TEST((echoed == data));
    BOOST_TEST(client->keep_alive());

    const Bytes whole = test::random_bytes(1024 * 1024 + 3, 8);
    HttpHeaders more;
    BOOST_REQUIRE(
        co_await client->send_head("POST", "/whole", std::move(more), BodyMode::content_length, whole.size()));
    co_await test::send_in_pieces(*client, whole, 50'000);
    auto head = co_await client->read_response_head(5s);
    BOOST_REQUIRE_MESSAGE(head, error_of(head));
    BOOST_TEST(head->status == 200);
    auto back = co_await test::read_body(*client);
    BOOST_TEST((back == whole));
    BOOST_TEST(server.server.connection_count() == 1u);

    // The one-shot helper too.
    auto hello = co_await net::http_request(ex, server.url("/hello"), "GET");
    BOOST_REQUIRE_MESSAGE(hello, error_of(hello));
    BOOST_TEST(hello->body == "hello");
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(certificates_are_not_checked_unless_asked) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler, {}, loopback_tls());
    const auto url = server.url("/hello");

    // Off, as upstream: the self-signed certificate is accepted.
    const TlsClientOptions off;
    auto unchecked = co_await connect_with(url, off);
    BOOST_TEST(unchecked.has_value(), error_of(unchecked));

    // On, against the system's CAs: refused, and the error says where and why.
    const TlsClientOptions system_cas{true, ""};
    auto refused = co_await connect_with(url, system_cas);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error().code == HttpErrc::connect_failed));
    BOOST_TEST(contains(refused.error().message, url.to_string()), refused.error().message);
    BOOST_TEST(contains(refused.error().message, "certificate verify failed"), refused.error().message);
    BOOST_TEST(contains(refused.error().message, "--ca"), refused.error().message);

    // On, with a bundle that holds the certificate: accepted.
    const TlsClientOptions own_bundle{false, test::loopback_certificate().cert_file};
    auto trusted = co_await connect_with(url, own_bundle);
    BOOST_TEST(trusted.has_value(), error_of(trusted));

    // On, with a bundle of someone else's: refused.
    auto other = test::certificates().make("other", "IP:127.0.0.1");
    const TlsClientOptions other_bundle{false, other.cert_file};
    auto stranger = co_await connect_with(url, other_bundle);
    BOOST_REQUIRE(!stranger);
    BOOST_TEST(contains(stranger.error().message, "certificate verify failed"), stranger.error().message);

    // A bundle that cannot be read says so.
    const TlsClientOptions absent_bundle{false, test::certificates().path("absent.pem")};
    auto missing = co_await connect_with(url, absent_bundle);
    BOOST_REQUIRE(!missing);
    BOOST_TEST(contains(missing.error().message, "absent.pem"), missing.error().message);
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_trusted_certificate_for_another_host_is_refused) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto elsewhere = test::certificates().make("elsewhere", "DNS:elsewhere.example");
    TestServer server(ex, echo_handler, {}, net::TlsServerOptions{elsewhere.cert_file, elsewhere.key_file});
    const TlsClientOptions bundle{false, elsewhere.cert_file};
    const auto url = server.url();
    auto wrong_host = co_await connect_with(url, bundle);
    BOOST_REQUIRE(!wrong_host);
    BOOST_TEST(contains(wrong_host.error().message, "certificate verify failed"), wrong_host.error().message);
    // Unchecked, the same server is reachable (and SNI for a name is sent without trouble).
    auto by_name = server.url();
    by_name.host = "localhost";
    const TlsClientOptions off;
    auto unchecked = co_await connect_with(by_name, off);
    BOOST_TEST(unchecked.has_value(), error_of(unchecked));
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(the_environment_can_turn_checks_on) {
  {
    ScopedEnv bundle(net::env_ca_bundle, "/some/bundle.pem");
    auto options = TlsClientOptions::from_environment();
    BOOST_TEST(options.verifies());
    BOOST_TEST(options.ca_file == "/some/bundle.pem");
    // An explicit bundle wins over the environment's.
    const TlsClientOptions mine{false, "/mine.pem"};
    BOOST_TEST(mine.with_environment().ca_file == "/mine.pem");
  }
  {
    ScopedEnv verify(net::env_tls_verify, "yes");
    auto options = TlsClientOptions::from_environment();
    BOOST_TEST(options.verifies());
    BOOST_TEST(options.ca_file.empty());
  }
  {
    ScopedEnv verify(net::env_tls_verify, "0");
    BOOST_TEST(!TlsClientOptions::from_environment().verifies());
  }
  BOOST_TEST(!TlsClientOptions::from_environment().verifies());
  BOOST_TEST(TlsClientOptions().describe() == "certificate verification off");
  const TlsClientOptions bundle{false, "/x.pem"};
  BOOST_TEST(contains(bundle.describe(), "/x.pem"));
}

BOOST_AUTO_TEST_CASE(a_stalled_handshake_is_cut_by_the_deadline) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    // A server that accepts the connection and never says a word.
    asio::ip::tcp::acceptor silent(ex, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    asio::ip::tcp::socket held(ex);
    silent.async_accept(held, [](std::error_code) {});
    net::Url url;
    url.secure = true;
    url.host = "127.0.0.1";
    url.port = silent.local_endpoint().port();
    auto started = Clock::now();
    const TlsClientOptions off;
    auto stalled = co_await connect_with(url, off, 300ms);
    auto took = Clock::now() - started;
    BOOST_REQUIRE(!stalled);
    BOOST_TEST((stalled.error().code == HttpErrc::timeout), stalled.error().message);
    BOOST_TEST(contains(stalled.error().message, "TLS handshake"), stalled.error().message);
    BOOST_TEST(contains(stalled.error().message, url.to_string()), stalled.error().message);
    BOOST_TEST((took < 2s));
  });
}

BOOST_AUTO_TEST_CASE(a_client_that_stalls_its_handshake_is_dropped) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    net::HttpLimits limits;
    limits.header_timeout = 300ms;
    TestServer server(ex, echo_handler, limits, loopback_tls());
    // One says nothing; one starts a TLS record and stops.
    test::RawTcpClient silent(ex), halfway(ex);
    BOOST_REQUIRE(co_await silent.connect(server.server.port()));
    BOOST_REQUIRE(co_await halfway.connect(server.server.port()));
    BOOST_REQUIRE(co_await halfway.send(std::string_view("\x16\x03\x01\x02\x00\x01", 6)));
    auto started = Clock::now();
    BOOST_TEST(co_await silent.read_until_closed(3s));
    BOOST_TEST(co_await halfway.read_until_closed(3s));
    BOOST_TEST((Clock::now() - started < 2s));
    BOOST_TEST(co_await eventually([&] { return server.server.connection_count() == 0; }));
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(plain_http_to_the_tls_port_is_answered_400) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler, {}, loopback_tls());
    auto plain = server.url("/hello");
    plain.secure = false;
    auto started = Clock::now();
    auto answer = co_await net::http_request(ex, plain, "GET", {}, {}, 5s);
    BOOST_REQUIRE_MESSAGE(answer, error_of(answer));
    BOOST_TEST(answer->head.status == 400);
    BOOST_TEST(contains(answer->body, "HTTP request to an HTTPS server"), answer->body);
    BOOST_TEST((Clock::now() - started < 2s));
    // The server goes on serving TLS.
    auto hello = co_await net::http_request(ex, server.url("/hello"), "GET");
    BOOST_REQUIRE_MESSAGE(hello, error_of(hello));
    BOOST_TEST(hello->body == "hello");
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(tls_to_a_plain_server_fails_clearly) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler);
    auto secure = server.url("/hello");
    secure.secure = true;
    auto started = Clock::now();
    const TlsClientOptions off;
    auto refused = co_await connect_with(secure, off, 5s);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error().code == HttpErrc::connect_failed), refused.error().message);
    BOOST_TEST(contains(refused.error().message, "TLS handshake with " + secure.to_string()), refused.error().message);
    BOOST_TEST(contains(refused.error().message, "http://"), refused.error().message);
    BOOST_TEST((Clock::now() - started < 2s));
    co_await server.stop();
  });
}

BOOST_AUTO_TEST_CASE(bad_certificate_files_are_refused_with_their_names) {
  asio::io_context io(1);
  net::HttpServer server(io.get_executor(), echo_handler);
  const auto& good = test::loopback_certificate();
  auto missing = server.use_tls({test::certificates().path("none.crt"), good.key_file});
  BOOST_REQUIRE(!missing);
  BOOST_TEST(contains(missing.error().message, "none.crt"), missing.error().message);
  auto no_key = server.use_tls({good.cert_file, test::certificates().path("none.key")});
  BOOST_REQUIRE(!no_key);
  BOOST_TEST(contains(no_key.error().message, "none.key"), no_key.error().message);
  auto other = test::certificates().make("mismatch", "IP:127.0.0.1");
  auto mismatched = server.use_tls({good.cert_file, other.key_file});
  BOOST_REQUIRE(!mismatched);
  BOOST_TEST(contains(mismatched.error().message, "does not match"), mismatched.error().message);
  BOOST_TEST(!server.secure());
}

BOOST_AUTO_TEST_CASE(stop_ends_tls_sessions_at_once) {
  test::run_async([]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    TestServer server(ex, echo_handler, {}, loopback_tls());
    auto idle = co_await test::connect(server);
    test::RawTcpClient handshaking(ex);
    BOOST_REQUIRE(co_await handshaking.connect(server.server.port()));
    BOOST_REQUIRE(co_await eventually([&] { return server.server.connection_count() == 2; }));
    auto started = Clock::now();
    co_await server.stop();
    BOOST_TEST((Clock::now() - started < 1s));
  });
}

BOOST_AUTO_TEST_SUITE_END()
