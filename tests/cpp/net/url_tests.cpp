// Url::parse: the URLs a worker is handed (subscribe_url, publish_url...) and the mistakes in them
// that must fail with a message saying what is wrong rather than connecting somewhere odd.

#include <string>

#include <boost/test/unit_test.hpp>

#include "trickle/net/url.hpp"

using trickle::net::Url;

namespace {

Url must_parse(std::string_view text) {
  auto url = Url::parse(text);
  BOOST_REQUIRE_MESSAGE(url, "'" << text << "' failed: " << (url ? "" : url.error()));
  return *url;
}

std::string must_fail(std::string_view text) {
  auto url = Url::parse(text);
  BOOST_REQUIRE_MESSAGE(!url, "'" << text << "' parsed as " << (url ? url->to_string() : ""));
  BOOST_TEST(!url.error().empty());
  return url.error();
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(host_port_and_path) {
  auto url = must_parse("http://127.0.0.1:8935/live/stream-in");
  BOOST_TEST(url.host == "127.0.0.1");
  BOOST_TEST(url.port == 8935);
  BOOST_TEST(url.target == "/live/stream-in");
  BOOST_TEST(url.authority() == "127.0.0.1:8935");
  BOOST_TEST(url.to_string() == "http://127.0.0.1:8935/live/stream-in");
}

BOOST_AUTO_TEST_CASE(defaults_port_80_and_path_slash) {
  auto bare = must_parse("http://example.com");
  BOOST_TEST(bare.host == "example.com");
  BOOST_TEST(bare.port == 80);
  BOOST_TEST(bare.target == "/");
  BOOST_TEST(bare.authority() == "example.com:80");

  auto slash = must_parse("http://example.com/");
  BOOST_TEST(slash.target == "/");
}

BOOST_AUTO_TEST_CASE(query_is_kept_in_the_target) {
  auto url = must_parse("http://h:1234/chan?token=abc&x=1");
  BOOST_TEST(url.target == "/chan?token=abc&x=1");
  // A query straight after the authority still gets an origin-form path.
  auto no_path = must_parse("http://h?token=abc");
  BOOST_TEST(no_path.host == "h");
  BOOST_TEST(no_path.target == "/?token=abc");
}

BOOST_AUTO_TEST_CASE(ipv6_literal) {
  auto url = must_parse("http://[::1]:8080/chan");
  BOOST_TEST(url.host == "::1");  // no brackets: this is what the resolver wants
  BOOST_TEST(url.port == 8080);
  BOOST_TEST(url.target == "/chan");
  BOOST_TEST(url.authority() == "[::1]:8080");  // brackets back for the Host header
  BOOST_TEST(url.to_string() == "http://[::1]:8080/chan");

  auto default_port = must_parse("http://[fe80::1:2]/x");
  BOOST_TEST(default_port.host == "fe80::1:2");
  BOOST_TEST(default_port.port == 80);

  must_fail("http://[::1/chan");       // unclosed bracket
  must_fail("http://[::1]8080/chan");  // junk after the bracket
  must_fail("http://[]:8080/");        // empty host
}

BOOST_AUTO_TEST_CASE(no_scheme_is_refused) {
  for (auto text : {"127.0.0.1:8080/chan", "/chan/0", "", "localhost", "http:/h/x", "http//h/x"}) {
    BOOST_TEST_CONTEXT(text) {
      auto error = must_fail(text);
      BOOST_TEST(contains(error, "http://"));
    }
  }
}

BOOST_AUTO_TEST_CASE(https_defaults_port_443) {
  // What a go-livepeer orchestrator hands out when its service address has no scheme.
  auto url = must_parse("https://203.0.113.7:8935/ai/trickle/abc-in");
  BOOST_TEST(url.secure);
  BOOST_TEST(url.host == "203.0.113.7");
  BOOST_TEST(url.port == 8935);
  BOOST_TEST(url.target == "/ai/trickle/abc-in");
  BOOST_TEST(url.to_string() == "https://203.0.113.7:8935/ai/trickle/abc-in");
  BOOST_TEST(url.with_path_suffix("/3").to_string() == "https://203.0.113.7:8935/ai/trickle/abc-in/3");

  auto bare = must_parse("https://example.com");
  BOOST_TEST(bare.port == 443);
  BOOST_TEST(bare.target == "/");
  auto v6 = must_parse("https://[::1]/x");
  BOOST_TEST(v6.port == 443);
  BOOST_TEST(v6.to_string() == "https://[::1]:443/x");

  BOOST_TEST(!must_parse("http://example.com/").secure);
  // Schemes are case-insensitive.
  BOOST_TEST(must_parse("HTTPS://h/x").secure);
  BOOST_TEST(!must_parse("Http://h/x").secure);
  // The same rules for the rest of the URL as http://.
  BOOST_TEST(contains(must_fail("https://:8080/x"), "host"));
  BOOST_TEST(contains(must_fail("https://h:0/x"), "port"));
  BOOST_TEST(contains(must_fail("https://u:p@h/x"), "credentials"));
  must_fail("https//h/x");
  must_fail("https:/h/x");
}

BOOST_AUTO_TEST_CASE(other_schemes_say_so) {
  for (auto text : {"ws://h/x", "ftp://h/", "wss://h/x", "httpx://h/"}) {
    BOOST_TEST_CONTEXT(text) {
      auto error = must_fail(text);
      BOOST_TEST(contains(error, "scheme"));
      BOOST_TEST(contains(error, "only http:// and https://"));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_port) {
  for (auto text : {"http://h:abc/", "http://h:0/", "http://h:65536/", "http://h:99999999999/", "http://h:-1/",
                    "http://h:80x/", "http://h: 80/", "http://h:+80/"}) {
    BOOST_TEST_CONTEXT(text) {
      auto error = must_fail(text);
      BOOST_TEST(contains(error, "port"));
    }
  }
  auto highest = must_parse("http://h:65535/");
  BOOST_TEST(highest.port == 65535);
}

BOOST_AUTO_TEST_CASE(empty_host) {
  for (auto text : {"http:///chan", "http://", "http://:8080/chan", "http://?q=1"}) {
    BOOST_TEST_CONTEXT(text) {
      auto error = must_fail(text);
      BOOST_TEST(contains(error, "host"));
    }
  }
}

BOOST_AUTO_TEST_CASE(credentials_are_refused) {
  for (auto text : {"http://user:secret@h:8080/chan", "http://user@h/", "http://@h/"}) {
    BOOST_TEST_CONTEXT(text) {
      auto error = must_fail(text);
      BOOST_TEST(contains(error, "credentials"));
    }
  }
  // An @ in the path is not a credential.
  auto url = must_parse("http://h/chan@1");
  BOOST_TEST(url.target == "/chan@1");
}

BOOST_AUTO_TEST_CASE(with_path_suffix_keeps_the_query_after_the_path) {
  auto base = must_parse("http://h:9/live/chan?token=t0k&x=1");
  auto segment = base.with_path_suffix("/12");
  BOOST_TEST(segment.target == "/live/chan/12?token=t0k&x=1");
  BOOST_TEST(segment.host == "h");
  BOOST_TEST(segment.port == 9);
  BOOST_TEST(base.target == "/live/chan?token=t0k&x=1");  // the original is untouched

  auto plain = must_parse("http://h/live/chan").with_path_suffix("/-1");
  BOOST_TEST(plain.target == "/live/chan/-1");
  // Plain concatenation, as PyTrickle builds "{url}/{seq}": no slash is added or removed.
  BOOST_TEST(must_parse("http://h/chan/").with_path_suffix("next").target == "/chan/next");
  BOOST_TEST(must_parse("http://h?q").with_path_suffix("chan").target == "/chan?q");
}

BOOST_AUTO_TEST_SUITE_END()
