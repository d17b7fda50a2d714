// The HTTP/1.1 parser, request and response side, on any bytes split in any way, with small limits:
// it must never crash, never take more than it was given, never hand out a head over the head
// limit or more body than the body limit, and every error must say something.

#include <cstdint>
#include <cstdlib>
#include <span>

#include "trickle/net/http_parser.hpp"

using trickle::net::HttpLimits;
using trickle::net::HttpParser;

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // First byte: the side and the piece size the bytes arrive in (1..64, as reads split them).
  const auto kind = (data[0] & 1) ? HttpParser::Kind::response : HttpParser::Kind::request;
  const std::size_t piece = 1 + (data[0] >> 2);
  std::span<const char> input(reinterpret_cast<const char*>(data + 1), size - 1);
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_body_bytes = 4096;
  HttpParser parser(kind, limits);
  std::size_t body = 0;
  std::size_t at = 0;
  while (at < input.size()) {
    auto chunk = input.subspan(at, std::min(piece, input.size() - at));
    auto step = parser.feed(chunk);
    check(step.consumed <= chunk.size());
    at += step.consumed;
    body += parser.body_buffer().size();
    parser.body_buffer().clear();
    check(body <= limits.max_body_bytes);
    if (step.event == HttpParser::Event::error) {
      check(!parser.error().message.empty());
      return 0;
    }
    if (step.event == HttpParser::Event::head_complete && kind == HttpParser::Kind::request) {
      const auto& head = parser.request_head();
      check(head.target.size() + head.method.size() <= limits.max_header_bytes);
    }
    if (step.event == HttpParser::Event::message_complete) {
      parser.next_message();
      body = 0;
    } else if (step.consumed == 0 && step.event == HttpParser::Event::need_more) {
      at += chunk.size();  // nothing taken and nothing complete: the parser wants more than this
    }
  }
  parser.finish();
  return 0;
}
