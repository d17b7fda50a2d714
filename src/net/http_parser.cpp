#include "trickle/net/http_parser.hpp"

#include <llhttp.h>

#include <fmt/format.h>

namespace trickle::net {

static HttpParser& self(llhttp_t* p) { return *static_cast<HttpParser*>(p->data); }

struct HttpParser::Callbacks {
  static int on_message_begin(llhttp_t* p) {
    auto& s = self(p);
    s.request_ = RequestHead{};
    s.response_ = ResponseHead{};
    s.field_.clear();
    s.value_.clear();
    s.field_done_ = false;
    s.body_bytes_ = 0;
    return 0;
  }
  static int on_method(llhttp_t* p, const char* at, size_t n) {
    self(p).request_.method.append(at, n);
    return 0;
  }
  static int on_url(llhttp_t* p, const char* at, size_t n) {
    self(p).request_.target.append(at, n);
    return 0;
  }
  static int on_status(llhttp_t* p, const char* at, size_t n) {
    self(p).response_.reason.append(at, n);
    return 0;
  }
  static int on_header_field(llhttp_t* p, const char* at, size_t n) {
    auto& s = self(p);
    if (s.field_done_) flush_header(s);
    // llhttp 8.1 refuses whitespace in the names it interprets ("Content-Length :") but keeps it
    // in any other ("Host :" becomes a field "Host " that no look-up finds); RFC 9112 §5.1 wants
    // a 400 for both.
    if (std::string_view(at, n).find_first_of(" \t") != std::string_view::npos) {
      s.pending_errc_ = HttpErrc::malformed;
      s.pending_message_ = "whitespace in a header field name";
      return -1;
    }
    s.field_.append(at, n);
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, size_t n) {
    auto& s = self(p);
    // llhttp 8.1 lets ": value" through; with no name to flush, the value would be glued onto the
    // next field's value.
    if (s.field_.empty()) {
      s.pending_errc_ = HttpErrc::malformed;
      s.pending_message_ = "header field with an empty name";
      return -1;
    }
    s.field_done_ = true;
    s.value_.append(at, n);
    return 0;
  }
  static void flush_header(HttpParser& s) {
    if (s.field_.empty()) return;
    auto& headers = s.kind_ == Kind::request ? s.request_.headers : s.response_.headers;
    headers.add(std::move(s.field_), std::move(s.value_));
    s.field_.clear();
    s.value_.clear();
    s.field_done_ = false;
  }
  static int on_headers_complete(llhttp_t* p) {
    auto& s = self(p);
    flush_header(s);
    s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
    s.chunked_ = (p->flags & F_CHUNKED) != 0;
    if (s.kind_ == Kind::request) {
      s.request_.version_minor = p->http_minor;
    } else {
      s.response_.status = p->status_code;
      s.response_.version_minor = p->http_minor;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > s.limits_.max_body_bytes) {
      s.pending_errc_ = HttpErrc::body_too_large;
      s.pending_message_ =
          fmt::format("Content-Length {} over the limit of {} bytes", p->content_length, s.limits_.max_body_bytes);
      return -1;
    }
    s.state_ = State::body;
    return HPE_PAUSED;  // hand the head to the caller before any body byte
  }
  static int on_chunk_header(llhttp_t* p) {
    auto& s = self(p);
    // An absurd chunk size is refused here, before we would wait for gigabytes.
    if (p->content_length > s.limits_.max_body_bytes - s.body_bytes_) {
      s.pending_errc_ = HttpErrc::body_too_large;
      s.pending_message_ = fmt::format("chunk of {} bytes over the body limit", p->content_length);
      return -1;
    }
    return 0;
  }
  static int on_body(llhttp_t* p, const char* at, size_t n) {
    auto& s = self(p);
    s.body_bytes_ += n;
    if (s.body_bytes_ > s.limits_.max_body_bytes) {
      s.pending_errc_ = HttpErrc::body_too_large;
      s.pending_message_ = "body over the limit";
      return -1;
    }
    s.body_.insert(s.body_.end(), reinterpret_cast<const std::uint8_t*>(at),
                   reinterpret_cast<const std::uint8_t*>(at) + n);
    return 0;
  }
  static int on_message_complete(llhttp_t* p) {
    auto& s = self(p);
    s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
    s.state_ = State::done;
    return HPE_PAUSED;  // leave pipelined bytes of the next message unparsed
  }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t table = [] {
      llhttp_settings_t t;
      llhttp_settings_init(&t);
      t.on_message_begin = on_message_begin;
      t.on_method = on_method;
      t.on_url = on_url;
      t.on_status = on_status;
      t.on_header_field = on_header_field;
      t.on_header_value = on_header_value;
      t.on_headers_complete = on_headers_complete;
      t.on_chunk_header = on_chunk_header;
      t.on_body = on_body;
      t.on_message_complete = on_message_complete;
      return t;
    }();
    return table;
  }
};

HttpParser::HttpParser(Kind kind, const HttpLimits& limits)
    : kind_(kind), limits_(limits), parser_(std::make_unique<llhttp_t>()) {
  llhttp_init(parser_.get(), kind == Kind::request ? HTTP_REQUEST : HTTP_RESPONSE, &Callbacks::settings());
  parser_->data = this;
}

HttpParser::~HttpParser() = default;

HttpParser::Step HttpParser::fail(HttpErrc code, std::string message, std::size_t consumed) {
  state_ = State::failed;
  error_ = HttpError{code, std::move(message)};
  return {Event::error, consumed};
}

HttpParser::Step HttpParser::feed(std::span<const char> input) {
  if (state_ == State::failed) return {Event::error, 0};
  if (state_ == State::done) return {Event::message_complete, 0};
  // In the body state an empty feed still runs the parser: a message without a body completes
  // right after its head without consuming a byte.
  if (input.empty() && state_ == State::head) return {Event::need_more, 0};
  static const char no_input = 0;
  const char* data = input.empty() ? &no_input : input.data();

  std::size_t size = input.size();
  if (state_ == State::head) {
    // Never let one head grow past the limit, however the bytes are split across reads.
    std::size_t room = limits_.max_header_bytes - head_bytes_;
    if (size > room + 1) size = room + 1;
  }
  bool in_head = state_ == State::head;
  auto step = execute(data, size);
  // A head that completes within the one byte of slack above must still count against the limit.
  if (in_head && (step.event == Event::need_more || step.event == Event::head_complete)) {
    head_bytes_ += step.consumed;
    if (head_bytes_ > limits_.max_header_bytes)
      return fail(HttpErrc::header_too_large,
                  fmt::format("message head over the limit of {} bytes", limits_.max_header_bytes), step.consumed);
  }
  return step;
}

HttpParser::Step HttpParser::execute(const char* data, std::size_t size) {
  llhttp_errno_t err = llhttp_execute(parser_.get(), data, size);
  if (err == HPE_OK) return {Event::need_more, size};
  if (err == HPE_PAUSED) {
    std::size_t consumed = static_cast<std::size_t>(llhttp_get_error_pos(parser_.get()) - data);
    llhttp_resume(parser_.get());
    if (state_ == State::done) return {Event::message_complete, consumed};
    return {Event::head_complete, consumed};
  }
  std::size_t consumed = 0;
  if (const char* pos = llhttp_get_error_pos(parser_.get()); pos >= data && pos <= data + size)
    consumed = static_cast<std::size_t>(pos - data);
  if (err == HPE_USER || err == HPE_CB_HEADERS_COMPLETE || err == HPE_CB_CHUNK_HEADER) {
    return fail(pending_errc_, pending_message_.empty() ? "rejected" : pending_message_, consumed);
  }
  return fail(HttpErrc::malformed,
              fmt::format("{}: {}", llhttp_errno_name(err), llhttp_get_error_reason(parser_.get())), consumed);
}

HttpParser::Step HttpParser::finish() {
  if (state_ == State::failed) return {Event::error, 0};
  if (state_ == State::done) return {Event::message_complete, 0};
  llhttp_errno_t err = llhttp_finish(parser_.get());
  if (state_ == State::done) return {Event::message_complete, 0};
  if (err == HPE_OK && state_ == State::head && head_bytes_ == 0) return {Event::need_more, 0};
  return fail(HttpErrc::closed, "connection closed before the message ended", 0);
}

void HttpParser::next_message() {
  if (state_ != State::done) return;
  state_ = State::head;
  head_bytes_ = 0;
  body_.clear();
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 470: return "Entry Not Found";  // trickle's "segment not available"
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

const char* to_string(HttpErrc code) {
  switch (code) {
    case HttpErrc::timeout: return "timeout";
    case HttpErrc::closed: return "closed";
    case HttpErrc::cancelled: return "cancelled";
    case HttpErrc::malformed: return "malformed";
    case HttpErrc::header_too_large: return "header_too_large";
    case HttpErrc::body_too_large: return "body_too_large";
    case HttpErrc::connect_failed: return "connect_failed";
    case HttpErrc::io: return "io";
  }
  return "unknown";
}

}  // namespace trickle::net
