// HttpParser on its own: how bytes split across feeds, pipelining, bodies, and the limits and
// malformed input a hostile peer can send. No sockets: every case feeds hand-written bytes.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "trickle/net/http_parser.hpp"

using trickle::net::HttpErrc;
using trickle::net::HttpLimits;
using trickle::net::HttpParser;

namespace {

using Event = HttpParser::Event;

// What one message did to the parser when fed from `input`.
struct Outcome {
  bool head = false;      // head_complete was seen
  bool complete = false;  // message_complete was seen
  bool error = false;
  std::size_t consumed = 0;  // bytes of `input` used up to the end of the message (or the error)
  std::string body;
};

// Feeds `input` at most `piece` bytes at a time until the message completes, fails, or the input
// runs out, draining the body buffer after every feed as a connection would.
Outcome parse(HttpParser& parser, std::string_view input, std::size_t piece = SIZE_MAX) {
  Outcome out;
  std::size_t at = 0;
  for (int guard = 0; guard < 10'000'000; ++guard) {
    std::size_t n = std::min(piece, input.size() - at);
    auto step = parser.feed({input.data() + at, n});
    BOOST_REQUIRE_LE(step.consumed, n);
    at += step.consumed;
    auto& body = parser.body_buffer();
    out.body.append(body.begin(), body.end());
    body.clear();
    switch (step.event) {
      case Event::head_complete:
        BOOST_REQUIRE_MESSAGE(!out.head, "a second head_complete within one message");
        out.head = true;
        break;  // a body-less message completes on the next (possibly empty) feed
      case Event::message_complete:
        out.complete = true;
        out.consumed = at;
        return out;
      case Event::error:
        out.error = true;
        out.consumed = at;
        return out;
      case Event::need_more:
        if (at == input.size()) {
          out.consumed = at;
          return out;
        }
        break;
    }
  }
  BOOST_FAIL("the parser made no progress");
  return out;
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

const std::vector<std::size_t> piece_sizes = {1, 2, 3, 7, 16, 100, SIZE_MAX};

}  // namespace

BOOST_AUTO_TEST_SUITE(http_parser)

BOOST_AUTO_TEST_CASE(simple_get) {
  HttpParser parser(HttpParser::Kind::request, {});
  std::string_view text =
      "GET /chan/12?token=a%20b HTTP/1.1\r\nHost: example.com:8080\r\nX-Multi: one\r\nx-multi: two\r\n\r\n";
  auto out = parse(parser, text);
  BOOST_TEST(out.head);
  BOOST_TEST(out.complete);
  BOOST_TEST(!out.error);
  BOOST_TEST(out.consumed == text.size());
  BOOST_TEST(out.body.empty());
  const auto& head = parser.request_head();
  BOOST_TEST(head.method == "GET");
  BOOST_TEST(head.target == "/chan/12?token=a%20b");
  BOOST_TEST(head.path() == "/chan/12");
  BOOST_TEST(head.version_minor == 1);
  BOOST_TEST(head.headers.fields().size() == 3u);
  BOOST_TEST(head.headers.get("HOST").value_or("") == "example.com:8080");
  BOOST_TEST(head.headers.get("x-multi").value_or("") == "one");  // first of repeated fields
  BOOST_TEST(parser.keep_alive());
  BOOST_TEST(!parser.chunked());
  BOOST_TEST(parser.message_done());
}

BOOST_AUTO_TEST_CASE(head_split_across_feeds_down_to_single_bytes) {
  std::string_view text =
      "POST /a/very/long/target/that/spans/many/feeds HTTP/1.1\r\n"
      "Host: h\r\n"
      "Content-Type: video/mp2t\r\n"
      "Lp-Trickle-Seq: 42\r\n"
      "X-Long-Value: "
      "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
      "Content-Length: 0\r\n"
      "\r\n";
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser parser(HttpParser::Kind::request, {});
      auto out = parse(parser, text, piece);
      BOOST_TEST(out.complete);
      BOOST_TEST(out.consumed == text.size());
      const auto& head = parser.request_head();
      BOOST_TEST(head.method == "POST");
      BOOST_TEST(head.target == "/a/very/long/target/that/spans/many/feeds");
      BOOST_REQUIRE_EQUAL(head.headers.fields().size(), 5u);
      BOOST_TEST(head.headers.get("lp-trickle-seq").value_or("") == "42");
      BOOST_TEST(head.headers.get("x-long-value").value_or("") ==
                 "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz");
      BOOST_TEST(head.headers.get("content-type").value_or("") == "video/mp2t");
    }
  }
}

BOOST_AUTO_TEST_CASE(empty_header_value_does_not_merge_with_the_next_field) {
  std::string_view text = "GET / HTTP/1.1\r\nX-Empty:\r\nHost: h\r\nX-Blank:   \r\nAccept: */*\r\n\r\n";
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser parser(HttpParser::Kind::request, {});
      auto out = parse(parser, text, piece);
      BOOST_REQUIRE(out.complete);
      const auto& headers = parser.request_head().headers;
      BOOST_TEST(headers.fields().size() == 4u);
      BOOST_TEST(headers.contains("X-Empty"));
      BOOST_TEST(headers.get("X-Empty").value_or("?") == "");
      BOOST_TEST(headers.get("Host").value_or("") == "h");
      BOOST_TEST(headers.get("Accept").value_or("") == "*/*");
    }
  }
}

BOOST_AUTO_TEST_CASE(pipelined_requests_in_one_buffer) {
  std::string text =
      "GET /first HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /second HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
      "DELETE /third HTTP/1.1\r\nHost: h\r\n\r\n";
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser parser(HttpParser::Kind::request, {});
      std::string_view rest = text;

      auto first = parse(parser, rest, piece);
      BOOST_REQUIRE(first.complete);
      BOOST_TEST(parser.request_head().target == "/first");
      // The parser stops at the end of the message: the next request is left unread.
      BOOST_TEST(first.consumed == std::string_view("GET /first HTTP/1.1\r\nHost: h\r\n\r\n").size());
      // Without next_message() the parser stays on the finished message.
      auto again = parser.feed({rest.data() + first.consumed, rest.size() - first.consumed});
      BOOST_TEST((again.event == Event::message_complete));
      BOOST_TEST(again.consumed == 0u);
      rest.remove_prefix(first.consumed);

      parser.next_message();
      auto second = parse(parser, rest, piece);
      BOOST_REQUIRE(second.complete);
      BOOST_TEST(parser.request_head().method == "POST");
      BOOST_TEST(parser.request_head().target == "/second");
      BOOST_TEST(second.body == "hello");
      rest.remove_prefix(second.consumed);

      parser.next_message();
      auto third = parse(parser, rest, piece);
      BOOST_REQUIRE(third.complete);
      BOOST_TEST(parser.request_head().method == "DELETE");
      BOOST_TEST(parser.request_head().target == "/third");
      BOOST_TEST(parser.request_head().headers.fields().size() == 1u);  // nothing left from /second
      BOOST_TEST(third.consumed == rest.size());
    }
  }
}

BOOST_AUTO_TEST_CASE(content_length_body) {
  std::string body;
  for (int i = 0; i < 5000; ++i) body.push_back(static_cast<char>(i * 7 % 256));
  std::string text = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n" + body + "GET /y HTTP/1.1\r\n\r\n";
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser parser(HttpParser::Kind::request, {});
      auto out = parse(parser, text, piece);
      BOOST_REQUIRE(out.complete);
      BOOST_TEST(!parser.chunked());
      BOOST_TEST((out.body == body));
      BOOST_TEST(out.consumed == text.size() - std::string_view("GET /y HTTP/1.1\r\n\r\n").size());
    }
  }
}

BOOST_AUTO_TEST_CASE(head_is_handed_out_before_any_body_byte) {
  HttpParser parser(HttpParser::Kind::request, {});
  std::string_view text = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  auto step = parser.feed({text.data(), text.size()});
  BOOST_TEST((step.event == Event::head_complete));
  BOOST_TEST(step.consumed == text.size() - 3);
  BOOST_TEST(parser.body_buffer().empty());
  BOOST_TEST(parser.in_body());
  step = parser.feed({text.data() + step.consumed, 3});
  BOOST_TEST((step.event == Event::message_complete));
  BOOST_TEST(std::string(parser.body_buffer().begin(), parser.body_buffer().end()) == "abc");
}

BOOST_AUTO_TEST_CASE(chunked_body_with_extensions_and_trailers) {
  std::string_view text =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "6;flag;quoted=\"a b\"\r\n world\r\n"
      "A\r\n0123456789\r\n"
      "0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser parser(HttpParser::Kind::request, {});
      auto out = parse(parser, text, piece);
      BOOST_REQUIRE_MESSAGE(out.complete, (out.error ? parser.error().message : "incomplete"));
      BOOST_TEST(parser.chunked());
      BOOST_TEST(out.body == "hello world0123456789");
      std::string_view rest = text.substr(out.consumed);
      BOOST_TEST(rest.substr(0, 4) == "GET ");

      // The trailers belong to the finished message, never to the next one.
      parser.next_message();
      auto next = parse(parser, rest, piece);
      BOOST_REQUIRE(next.complete);
      BOOST_TEST(parser.request_head().target == "/after");
      BOOST_TEST(parser.request_head().headers.fields().size() == 1u);
      BOOST_TEST(!parser.request_head().headers.contains("X-Trailer"));
      BOOST_TEST(!parser.request_head().headers.contains("X-Other"));
    }
  }
}

BOOST_AUTO_TEST_CASE(body_split_byte_by_byte) {
  std::string_view chunked =
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  std::string_view sized = "POST /c HTTP/1.1\r\nContent-Length: 19\r\n\r\nabc0123456789abcdef";
  for (auto text : {chunked, sized}) {
    HttpParser parser(HttpParser::Kind::request, {});
    std::string body;
    std::size_t at = 0;
    bool complete = false;
    // One byte per feed, as a trickling peer might send it; every body byte shows up at once.
    while (at < text.size() && !complete) {
      auto step = parser.feed({text.data() + at, 1});
      at += step.consumed;
      if (step.event == Event::head_complete && step.consumed == 0) continue;
      BOOST_REQUIRE((step.event != Event::error));
      body.append(parser.body_buffer().begin(), parser.body_buffer().end());
      parser.body_buffer().clear();
      complete = step.event == Event::message_complete;
    }
    if (!complete) {
      auto step = parser.feed({});
      complete = step.event == Event::message_complete;
    }
    BOOST_TEST(complete);
    BOOST_TEST(at == text.size());
    BOOST_TEST(body == "abc0123456789abcdef");
  }
}

BOOST_AUTO_TEST_CASE(response_with_interim_100_continue) {
  std::string_view text =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 100 Continue\r\nX-Note: twice\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nLp-Trickle-Seq: 3\r\n\r\nok";
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser parser(HttpParser::Kind::response, {});
      std::string_view rest = text;
      for (int i = 0; i < 2; ++i) {
        auto interim = parse(parser, rest, piece);
        BOOST_REQUIRE(interim.complete);
        BOOST_TEST(parser.response_head().status == 100);
        BOOST_TEST(parser.response_head().reason == "Continue");
        BOOST_TEST(interim.body.empty());
        rest.remove_prefix(interim.consumed);
        parser.next_message();
      }
      auto final_response = parse(parser, rest, piece);
      BOOST_REQUIRE(final_response.complete);
      BOOST_TEST(final_response.consumed == rest.size());
      BOOST_TEST(parser.response_head().status == 200);
      BOOST_TEST(parser.response_head().reason == "OK");
      BOOST_TEST(parser.response_head().headers.get("Lp-Trickle-Seq").value_or("") == "3");
      BOOST_TEST(!parser.response_head().headers.contains("X-Note"));
      BOOST_TEST(final_response.body == "ok");
      BOOST_TEST(parser.keep_alive());
    }
  }
}

BOOST_AUTO_TEST_CASE(keep_alive_rules) {
  struct Case {
    HttpParser::Kind kind;
    std::string_view text;
    bool keep_alive;
  };
  const Case cases[] = {
      {HttpParser::Kind::request, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
      {HttpParser::Kind::request, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
      {HttpParser::Kind::request, "GET / HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n", false},
      {HttpParser::Kind::request, "GET / HTTP/1.0\r\n\r\n", false},
      {HttpParser::Kind::request, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {HttpParser::Kind::response, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {HttpParser::Kind::response, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false},
      {HttpParser::Kind::response, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.text) {
      HttpParser parser(c.kind, {});
      auto step = parser.feed({c.text.data(), c.text.size()});
      BOOST_REQUIRE((step.event == Event::head_complete));
      BOOST_TEST(parser.keep_alive() == c.keep_alive);  // known once the head is in
      auto out = parse(parser, c.text.substr(step.consumed));
      BOOST_REQUIRE(out.complete);
      BOOST_TEST(parser.keep_alive() == c.keep_alive);
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_input_is_a_400) {
  const std::string_view cases[] = {
      "HELLO WORLD\r\n\r\n",                 // no such method
      "GET  HTTP/1.1\r\n\r\n",               // empty target
      "GET / HTTP/1.1 extra\r\n\r\n",        // junk after the version
      "GET / HTTP/1.1\r\nHost : x\r\n\r\n",  // space before the colon
      "GET / HTTP/1.1\r\nContent-Length : 0\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",           // space inside a name
      "GET / HTTP/1.1\r\nBad@Name: x\r\n\r\n",           // not a token character
      "GET / HTTP/1.1\r\n: no-name\r\nHost: h\r\n\r\n",  // empty field name
      "GET / HTTP/1.1\r\nX: a\x01"
      "b\r\n\r\n",               // control byte in a value
      "GET / HTTP/1.7\r\n\r\n",  // no such version
      "GET / HTTP/x.1\r\n\r\n",
      "GET / HTTQ/1.1\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",                               // not a number
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",              // conflicting lengths
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",     // smuggling shape
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",  // bad chunk size
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",                                   // a TLS ClientHello
  };
  for (auto text : cases) {
    for (std::size_t piece : {std::size_t(1), SIZE_MAX}) {
      BOOST_TEST_CONTEXT("input '" << text << "' piece " << piece) {
        HttpParser parser(HttpParser::Kind::request, {});
        auto out = parse(parser, text, piece);
        BOOST_REQUIRE(out.error);
        BOOST_TEST((parser.error().code == HttpErrc::malformed));
        BOOST_TEST(parser.error().status() == 400);
        BOOST_TEST(!parser.error().message.empty());
        // A failed parser stays failed: the connection cannot continue.
        auto again = parser.feed({"GET / HTTP/1.1\r\n\r\n", 18});
        BOOST_TEST((again.event == Event::error));
        BOOST_TEST((parser.finish().event == Event::error));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_response_is_an_error) {
  const std::string_view cases[] = {
      "HTTP/1.1 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTZ/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
  };
  for (auto text : cases) {
    BOOST_TEST_CONTEXT(text) {
      HttpParser parser(HttpParser::Kind::response, {});
      auto out = parse(parser, text);
      BOOST_TEST(out.error);
      BOOST_TEST((parser.error().code == HttpErrc::malformed));
    }
  }
}

BOOST_AUTO_TEST_CASE(head_at_the_limit_passes_one_byte_over_fails) {
  HttpLimits limits;
  limits.max_header_bytes = 512;
  std::string prefix = "GET / HTTP/1.1\r\nX-Pad: ";
  std::string suffix = "\r\n\r\n";
  std::string exact = prefix + repeat('a', limits.max_header_bytes - prefix.size() - suffix.size()) + suffix;
  BOOST_REQUIRE_EQUAL(exact.size(), limits.max_header_bytes);
  std::string over = prefix + repeat('a', limits.max_header_bytes + 1 - prefix.size() - suffix.size()) + suffix;
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser ok(HttpParser::Kind::request, limits);
      auto passed = parse(ok, exact, piece);
      BOOST_TEST(passed.complete);

      HttpParser too_big(HttpParser::Kind::request, limits);
      auto failed = parse(too_big, over, piece);
      BOOST_TEST(failed.error);
      BOOST_TEST((too_big.error().code == HttpErrc::header_too_large));
    }
  }
}

BOOST_AUTO_TEST_CASE(oversized_head_is_a_431_however_it_is_split) {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  std::string many_fields = "GET / HTTP/1.1\r\n";
  for (int i = 0; many_fields.size() < 10 * 1024; ++i) many_fields += "X-Field-" + std::to_string(i) + ": value\r\n";
  many_fields += "\r\n";
  std::string one_long_target = "GET /" + repeat('t', 100 * 1024) + " HTTP/1.1\r\n\r\n";
  std::string endless_value = "GET / HTTP/1.1\r\nX: " + repeat('v', 100 * 1024);  // never ends
  for (const auto& text : {many_fields, one_long_target, endless_value}) {
    for (auto piece : piece_sizes) {
      BOOST_TEST_CONTEXT("input of " << text.size() << " bytes, piece size " << piece) {
        HttpParser parser(HttpParser::Kind::request, limits);
        auto out = parse(parser, text, piece);
        BOOST_REQUIRE(out.error);
        BOOST_TEST((parser.error().code == HttpErrc::header_too_large));
        BOOST_TEST(parser.error().status() == 431);
        // It stops reading right past the limit instead of taking in the whole flood.
        BOOST_TEST(out.consumed <= limits.max_header_bytes + 1);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(head_limit_applies_to_each_message_not_the_connection) {
  HttpLimits limits;
  limits.max_header_bytes = 256;
  std::string one = "GET / HTTP/1.1\r\nX-Pad: " + repeat('p', 150) + "\r\n\r\n";
  HttpParser parser(HttpParser::Kind::request, limits);
  for (int i = 0; i < 10; ++i) {
    auto out = parse(parser, one, 13);
    BOOST_REQUIRE(out.complete);
    parser.next_message();
  }
}

BOOST_AUTO_TEST_CASE(content_length_over_the_limit_is_refused_before_any_body_byte) {
  HttpLimits limits;
  limits.max_body_bytes = 1000;
  for (auto kind : {HttpParser::Kind::request, HttpParser::Kind::response}) {
    std::string head = kind == HttpParser::Kind::request ? "POST /x HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"
                                                         : "HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n";
    HttpParser parser(kind, limits);
    // Only the head is fed: the refusal must not wait for the body.
    auto out = parse(parser, head);
    BOOST_REQUIRE(out.error);
    BOOST_TEST(!out.head);
    BOOST_TEST((parser.error().code == HttpErrc::body_too_large));
    BOOST_TEST(parser.error().status() == 413);
    BOOST_TEST(parser.body_buffer().empty());
  }
  // Exactly at the limit is fine.
  HttpParser parser(HttpParser::Kind::request, limits);
  auto out = parse(parser, "POST /x HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + repeat('b', 1000));
  BOOST_TEST(out.complete);
  BOOST_TEST(out.body.size() == 1000u);
  // A length that does not even fit in 64 bits is malformed, not a huge allocation.
  HttpParser huge(HttpParser::Kind::request, limits);
  auto overflow = parse(huge, "POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
  BOOST_TEST(overflow.error);
}

BOOST_AUTO_TEST_CASE(absurd_chunk_size_is_refused_without_allocating) {
  HttpLimits limits;
  limits.max_body_bytes = 1 << 20;
  const std::string_view sizes[] = {"fffffffffff", "100001", "FFFFFFFFFFFFFFFF", "ffffffffffffffffffffffff"};
  for (auto size : sizes) {
    BOOST_TEST_CONTEXT("chunk size " << size) {
      HttpParser parser(HttpParser::Kind::request, limits);
      std::string text = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nokay\r\n" + std::string(size) +
                         "\r\n" + repeat('z', 64);
      auto out = parse(parser, text);
      BOOST_REQUIRE(out.error);
      BOOST_TEST((parser.error().code == HttpErrc::body_too_large || parser.error().code == HttpErrc::malformed));
      BOOST_TEST(parser.error().status() != 0);
      BOOST_TEST(out.body == "okay");  // what came before the bad chunk was handed out
      BOOST_TEST(parser.body_buffer().capacity() < 4096u);
    }
  }
}

BOOST_AUTO_TEST_CASE(sum_of_chunks_over_the_limit_is_a_413) {
  HttpLimits limits;
  limits.max_body_bytes = 1000;
  auto chunked = [](std::initializer_list<std::size_t> sizes) {
    std::string text = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (auto n : sizes) {
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      text += size_line + repeat('c', n) + "\r\n";
    }
    return text + "0\r\n\r\n";
  };
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser over(HttpParser::Kind::request, limits);
      auto out = parse(over, chunked({400, 400, 400}), piece);
      BOOST_REQUIRE(out.error);
      BOOST_TEST((over.error().code == HttpErrc::body_too_large));
      BOOST_TEST(out.body.size() <= limits.max_body_bytes);

      HttpParser exact(HttpParser::Kind::request, limits);
      auto fits = parse(exact, chunked({400, 400, 200}), piece);
      BOOST_TEST(fits.complete);
      BOOST_TEST(fits.body.size() == 1000u);
    }
  }
}

BOOST_AUTO_TEST_CASE(finish_completes_a_body_delimited_by_close) {
  HttpParser parser(HttpParser::Kind::response, {});
  std::string_view text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nno length, ends at close";
  auto out = parse(parser, text, 5);
  BOOST_TEST(out.head);
  BOOST_TEST(!out.complete);
  BOOST_TEST(out.body == "no length, ends at close");
  BOOST_TEST(!parser.keep_alive());  // the end of the body is the end of the connection
  BOOST_TEST((parser.finish().event == Event::message_complete));
  BOOST_TEST(parser.message_done());
}

BOOST_AUTO_TEST_CASE(body_delimited_by_close_over_the_limit_is_a_413) {
  // With neither Content-Length nor chunks, only the running count can stop the body.
  HttpLimits limits;
  limits.max_body_bytes = 1000;
  for (auto piece : piece_sizes) {
    BOOST_TEST_CONTEXT("piece size " << piece) {
      HttpParser parser(HttpParser::Kind::response, limits);
      auto out = parse(parser, "HTTP/1.1 200 OK\r\n\r\n" + repeat('e', 1500), piece);
      BOOST_REQUIRE(out.error);
      BOOST_TEST((parser.error().code == HttpErrc::body_too_large));
      BOOST_TEST(out.body.size() <= limits.max_body_bytes);
    }
  }
}

BOOST_AUTO_TEST_CASE(finish_in_the_middle_of_a_message_is_an_error) {
  const std::pair<HttpParser::Kind, std::string_view> cases[] = {
      {HttpParser::Kind::response, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"},
      {HttpParser::Kind::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"},
      {HttpParser::Kind::request, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort"},
      {HttpParser::Kind::request, "GET / HTTP/1.1\r\nHost: h"},
  };
  for (const auto& [kind, text] : cases) {
    BOOST_TEST_CONTEXT(text) {
      HttpParser parser(kind, {});
      parse(parser, text);
      auto end = parser.finish();
      BOOST_TEST((end.event == Event::error));
      BOOST_TEST((parser.error().code == HttpErrc::closed));
    }
  }
  // Nothing at all: an idle connection closing is not an error.
  HttpParser idle(HttpParser::Kind::request, {});
  BOOST_TEST((idle.finish().event == Event::need_more));
}

BOOST_AUTO_TEST_SUITE_END()
