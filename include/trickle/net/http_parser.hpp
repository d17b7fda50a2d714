#pragma once
// An incremental HTTP/1.1 parser over llhttp that stops at the two places a streaming server or
// client needs to act: after the head (to route or check the status before touching the body)
// and after the message (so pipelined bytes of the next message stay unread). Body bytes are
// appended to a buffer the caller drains, so a body is handed out piece by piece as it arrives.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "trickle/net/http_error.hpp"
#include "trickle/net/http_limits.hpp"
#include "trickle/net/http_message.hpp"

struct llhttp__internal_s;  // llhttp_t, kept out of this header

namespace trickle::net {

class HttpParser {
 public:
  enum class Kind { request, response };
  enum class Event {
    need_more,         // all input consumed, nothing complete yet
    head_complete,     // request_head()/response_head() is ready; body (if any) follows
    message_complete,  // the body ended; the next message may start at `consumed`
    error,             // error() says what; the connection cannot continue
  };
  struct Step {
    Event event;
    std::size_t consumed;  // bytes of the input used; the rest must be fed again later
  };

  HttpParser(Kind kind, const HttpLimits& limits);
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Feeds bytes. Body bytes found on the way are appended to body_buffer().
  Step feed(std::span<const char> input);

  // Tells the parser the input ended (peer closed): completes bodies delimited by close.
  Step finish();

  const RequestHead& request_head() const { return request_; }
  const ResponseHead& response_head() const { return response_; }
  RequestHead& request_head() { return request_; }
  ResponseHead& response_head() { return response_; }

  std::vector<std::uint8_t>& body_buffer() { return body_; }
  bool in_body() const { return state_ == State::body; }
  bool message_done() const { return state_ == State::done; }
  bool keep_alive() const { return keep_alive_; }
  bool chunked() const { return chunked_; }
  const HttpError& error() const { return error_; }

  // Prepares for the next message on the same connection (after message_complete).
  void next_message();

  // The parser state, exposed for llhttp's C callbacks (internal).
  struct Callbacks;

 private:
  enum class State { head, body, done, failed };

  Step execute(const char* data, std::size_t size);
  Step fail(HttpErrc code, std::string message, std::size_t consumed);

  Kind kind_;
  HttpLimits limits_;
  std::unique_ptr<::llhttp__internal_s> parser_;
  State state_ = State::head;
  RequestHead request_;
  ResponseHead response_;
  std::string field_, value_;
  bool field_done_ = false;
  std::size_t head_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  bool keep_alive_ = true;
  bool chunked_ = false;
  HttpErrc pending_errc_ = HttpErrc::malformed;  // set by a callback before it returns an error
  std::string pending_message_;
  std::vector<std::uint8_t> body_;
  HttpError error_{HttpErrc::malformed, ""};
};

}  // namespace trickle::net
