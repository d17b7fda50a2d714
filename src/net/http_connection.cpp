#include "trickle/net/http_connection.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace trickle::net {

HttpConnection::HttpConnection(Transport transport, HttpParser::Kind kind, const HttpLimits& limits)
    : transport_(std::move(transport)),
      limits_(limits),
      parser_(kind, limits),
      buffer_(std::min(initial_read_buffer_bytes, limits.read_buffer_bytes)),
      read_watchdog_(executor(), [this] { close(); }),
      write_watchdog_(executor(), [this] { close(); }) {
  std::error_code ignored;
  transport_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);  // latency over batching
}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() { transport_.close(); }

HttpError HttpConnection::socket_error(const std::error_code& ec, const Watchdog& watchdog) const {
  if (watchdog.expired()) return {HttpErrc::timeout, "timed out"};
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted)
    return {HttpErrc::closed, ec.message()};
  if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
    return {HttpErrc::cancelled, "cancelled"};
  return {HttpErrc::io, ec.message()};
}

// The buffer starts small and doubles (up to limits.read_buffer_bytes) only while reads fill it,
// so a quiet or slow peer (half a head, a trickle of body) costs a few KiB, and a fast stream
// soon reads in large pieces.
awaitable<HttpResult<void>> HttpConnection::fill(Clock::duration timeout) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == buffer_.size() && begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) grow_buffer();
  read_watchdog_.expires_after(timeout);
  const std::size_t room = buffer_.size() - end_;
  auto [ec, n] = co_await transport_.read_some(asio::buffer(buffer_.data() + end_, room));
  read_watchdog_.disarm();
  if (ec) co_return tl::unexpected(socket_error(ec, read_watchdog_));
  end_ += n;
  if (n == room) grow_buffer();  // the peer had more: read more at once next time
  co_return HttpResult<void>{};
}

void HttpConnection::grow_buffer() {
  if (buffer_.size() < limits_.read_buffer_bytes)
    buffer_.resize(std::min(buffer_.size() * 2, limits_.read_buffer_bytes));
}

// Between messages nothing is buffered: a buffer grown for a fast body is given back, so a
// connection that then idles (keep-alive, or a new head that never completes) costs little.
void HttpConnection::shrink_buffer_if_drained() {
  const std::size_t initial = std::min(initial_read_buffer_bytes, limits_.read_buffer_bytes);
  if (begin_ != end_ || buffer_.size() <= initial) return;
  std::vector<char>(initial).swap(buffer_);
  begin_ = end_ = 0;
}

awaitable<HttpResult<void>> HttpConnection::read_head(Clock::duration timeout) {
  shrink_buffer_if_drained();
  auto deadline = deadline_after(timeout);
  bool got_bytes = begin_ != end_;
  for (;;) {
    if (begin_ != end_) {
      auto step = parser_.feed({buffer_.data() + begin_, end_ - begin_});
      begin_ += step.consumed;
      switch (step.event) {
        case HttpParser::Event::head_complete: co_return HttpResult<void>{};
        case HttpParser::Event::error: co_return tl::unexpected(parser_.error());
        case HttpParser::Event::message_complete:  // cannot precede a head
        case HttpParser::Event::need_more: break;
      }
    }
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) co_return http_error(HttpErrc::timeout, "timed out waiting for a head");
    auto filled = co_await fill(left);
    if (!filled) {
      if (filled.error().code == HttpErrc::closed && !got_bytes)
        co_return http_error(HttpErrc::closed, "peer closed the connection");
      co_return tl::unexpected(filled.error());
    }
    got_bytes = true;
  }
}

awaitable<HttpResult<BodyPiece>> HttpConnection::read_body(Clock::duration timeout) {
  for (;;) {
    if (parser_.message_done() && parser_.body_buffer().empty()) co_return BodyPiece{};
    auto step = parser_.feed({buffer_.data() + begin_, end_ - begin_});
    begin_ += step.consumed;
    if (step.event == HttpParser::Event::error) co_return tl::unexpected(parser_.error());
    if (auto& body = parser_.body_buffer(); !body.empty()) {
      BodyPiece piece(std::move(body));
      body = {};
      co_return piece;
    }
    if (step.event == HttpParser::Event::message_complete) co_return BodyPiece{};
    if (begin_ != end_) continue;  // parser stopped early (e.g. capped feed); go on parsing
    auto filled = co_await fill(timeout);
    if (!filled) {
      if (filled.error().code == HttpErrc::closed) {
        // A body delimited by the end of the connection ends here; any other is cut short.
        auto end = parser_.finish();
        if (end.event == HttpParser::Event::message_complete) continue;
        co_return http_error(HttpErrc::closed, "connection closed in the middle of the body");
      }
      co_return tl::unexpected(filled.error());
    }
  }
}

awaitable<bool> HttpConnection::discard_body(std::size_t limit, Clock::duration timeout) {
  std::size_t seen = 0;
  auto deadline = deadline_after(timeout);
  while (!parser_.message_done()) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) co_return false;
    auto piece = co_await read_body(left);
    if (!piece) co_return false;
    if (!*piece) co_return true;
    seen += (*piece)->size();
    if (seen > limit) co_return false;
  }
  co_return true;
}

awaitable<HttpResult<void>> HttpConnection::write(std::span<const asio::const_buffer> buffers,
                                                  Clock::duration timeout) {
  write_watchdog_.expires_after(timeout);
  auto [ec, n] = co_await transport_.write(buffers);
  write_watchdog_.disarm();
  if (ec) co_return tl::unexpected(socket_error(ec, write_watchdog_));
  co_return HttpResult<void>{};
}

awaitable<HttpResult<void>> HttpConnection::write(std::string_view bytes, Clock::duration timeout) {
  asio::const_buffer buffer(bytes.data(), bytes.size());
  co_return co_await write(std::span<const asio::const_buffer>(&buffer, 1), timeout);
}

}  // namespace trickle::net
