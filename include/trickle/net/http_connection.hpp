#pragma once
// One HTTP/1.1 connection: a transport (TCP, plain or TLS), a read buffer that grows on demand up to
// a bound, the parser, and deadlines. Server and client both use it; only the parser kind differs. Reads pull bytes
// from the socket only when the caller asks for the next piece, so a slow consumer slows the peer down (TCP
// back-pressure) instead of growing a buffer.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "trickle/net/asio.hpp"
#include "trickle/net/http_error.hpp"
#include "trickle/net/http_limits.hpp"
#include "trickle/net/http_parser.hpp"
#include "trickle/net/transport.hpp"
#include "trickle/net/watchdog.hpp"

namespace trickle::net {

using BodyPiece = std::optional<std::vector<std::uint8_t>>;  // nullopt: the body ended

class HttpConnection {
 public:
  HttpConnection(Transport transport, HttpParser::Kind kind, const HttpLimits& limits);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Reads until the next message head is complete; `timeout` bounds the whole head.
  awaitable<HttpResult<void>> read_head(Clock::duration timeout);

  // The next piece of body, as soon as any body bytes are there; nullopt when the body ended.
  // `timeout` bounds the wait for this piece (Clock::duration::max(): no deadline).
  awaitable<HttpResult<BodyPiece>> read_body(Clock::duration timeout);

  // Reads and drops the rest of the body, at most `limit` bytes; false if it did not end by then.
  awaitable<bool> discard_body(std::size_t limit, Clock::duration timeout);

  awaitable<HttpResult<void>> write(std::span<const asio::const_buffer> buffers, Clock::duration timeout);
  awaitable<HttpResult<void>> write(std::string_view bytes, Clock::duration timeout);

  HttpParser& parser() { return parser_; }
  const HttpParser& parser() const { return parser_; }
  const HttpLimits& limits() const { return limits_; }
  std::size_t read_buffer_size() const { return buffer_.size(); }  // grows on demand, see fill()
  bool body_done() const { return parser_.message_done(); }
  void next_message() { parser_.next_message(); }

  bool is_open() const { return transport_.is_open(); }
  bool secure() const { return transport_.secure(); }
  // Closes the socket: every pending read or write completes at once (with `cancelled`).
  void close();
  asio::ip::tcp::socket& socket() { return transport_.socket(); }
  Transport& transport() { return transport_; }
  Executor executor() { return transport_.socket().get_executor(); }

 private:
  static constexpr std::size_t initial_read_buffer_bytes = 4 * 1024;
  awaitable<HttpResult<void>> fill(Clock::duration timeout);
  void grow_buffer();
  void shrink_buffer_if_drained();
  HttpError socket_error(const std::error_code& ec, const Watchdog& watchdog) const;

  Transport transport_;
  HttpLimits limits_;
  HttpParser parser_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;  // unparsed bytes are buffer_[begin_, end_)
  Watchdog read_watchdog_;
  Watchdog write_watchdog_;
};

}  // namespace trickle::net
