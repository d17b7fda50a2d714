#pragma once
// A bare TCP client for tests that must send bytes no well-behaved HTTP client would (garbage,
// cut bodies, absurd chunk sizes) or behave as a hostile peer does (never read, never send).
// Every wait has a deadline, so a server that misbehaves fails the test instead of hanging it.

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trickle/net/asio.hpp"

namespace trickle::test {

class RawTcpClient {
 public:
  explicit RawTcpClient(net::Executor executor) : socket_(std::move(executor)) {}

  // `receive_buffer` shrinks SO_RCVBUF before connecting (it fixes the TCP window), which makes
  // a client that never reads stall the sender after a few KiB instead of a few MiB. `from` is the
  // local address (any of 127.0.0.0/8 works on loopback): to look like another client.
  net::awaitable<bool> connect(std::uint16_t port, std::optional<int> receive_buffer = std::nullopt,
                               std::string_view from = "127.0.0.1") {
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    std::error_code ec;
    socket_.open(endpoint.protocol(), ec);
    if (!ec) socket_.bind(asio::ip::tcp::endpoint(asio::ip::make_address(std::string(from)), 0), ec);
    if (!ec && receive_buffer) socket_.set_option(asio::socket_base::receive_buffer_size(*receive_buffer), ec);
    if (ec) co_return false;
    auto [connect_ec] = co_await socket_.async_connect(endpoint, net::use_nothrow);
    co_return !connect_ec;
  }

  net::awaitable<bool> send(std::string_view bytes) {
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), net::use_nothrow);
    (void)n;
    co_return !ec;
  }

  // Reads until `delimiter` has been received (true), or the peer closed or time ran out (false).
  net::awaitable<bool> read_until(std::string_view delimiter, net::Clock::duration timeout) {
    auto deadline = net::Clock::now() + timeout;
    while (received_.find(delimiter) == std::string::npos) {
      if (!co_await read_some(deadline)) co_return received_.find(delimiter) != std::string::npos;
    }
    co_return true;
  }

  // Reads until the peer closes the connection (true) or time runs out (false).
  net::awaitable<bool> read_until_closed(net::Clock::duration timeout) {
    auto deadline = net::Clock::now() + timeout;
    while (!closed_) {
      if (!co_await read_some(deadline) && !closed_) co_return false;
    }
    co_return true;
  }

  // Reads one whole response whose body has a Content-Length (or none) and moves it from
  // received() to last_response(), so the next one can be read off the same connection.
  // Its status code; 0 when no complete response came in time.
  net::awaitable<int> read_response(net::Clock::duration timeout) {
    auto deadline = net::Clock::now() + timeout;
    bool have_head = co_await read_until("\r\n\r\n", timeout);
    if (!have_head) co_return 0;
    auto head_end = received_.find("\r\n\r\n") + 4;
    std::size_t length = 0;
    if (auto value = header_of(received_, "Content-Length"))
      std::from_chars(value->data(), value->data() + value->size(), length);
    while (received_.size() < head_end + length) {
      bool more = co_await read_some(deadline);
      if (!more) co_return 0;
    }
    last_response_ = received_.substr(0, head_end + length);
    received_.erase(0, head_end + length);
    co_return status_of(last_response_);
  }

  const std::string& received() const { return received_; }
  const std::string& last_response() const { return last_response_; }
  std::size_t received_bytes() const { return total_; }
  bool closed() const { return closed_; }

  // The status of the first response in received() (0: none yet).
  int status() const { return status_of(received_); }
  std::optional<std::string_view> header(std::string_view name) const { return header_of(received_, name); }

  // Stops keeping what is read (only counting it): for draining megabytes.
  void keep_received(bool keep) { keep_ = keep; }

  void close() {
    std::error_code ignored;
    socket_.close(ignored);
  }
  asio::ip::tcp::socket& socket() { return socket_; }

  // The status code of the response `text` starts with (0: not a status line).
  static int status_of(std::string_view text) {
    if (text.size() < 12 || text.substr(0, 7) != "HTTP/1.") return 0;
    int code = 0;
    auto [end, ec] = std::from_chars(text.data() + 9, text.data() + 12, code);
    return ec == std::errc() && end == text.data() + 12 ? code : 0;
  }

  // A field of the response head `text` starts with (name case-insensitive), trimmed.
  static std::optional<std::string_view> header_of(std::string_view text, std::string_view name) {
    std::string_view rest = text.substr(0, text.find("\r\n\r\n"));
    for (auto eol = rest.find("\r\n"); eol != std::string_view::npos; eol = rest.find("\r\n")) {
      rest.remove_prefix(eol + 2);
      auto line = rest.substr(0, rest.find("\r\n"));
      auto colon = line.find(':');
      if (colon != name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < colon && same; ++i)
        same = std::tolower(static_cast<unsigned char>(line[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      if (!same) continue;
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return value;
    }
    return std::nullopt;
  }

 private:
  // One read; false when the peer closed (closed_ set) or the deadline passed.
  net::awaitable<bool> read_some(net::Clock::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    if (closed_) co_return false;
    if (net::Clock::now() >= deadline) co_return false;
    asio::steady_timer timer(socket_.get_executor(), deadline);
    auto outcome = co_await (socket_.async_read_some(asio::buffer(buffer_), net::use_nothrow) ||
                             timer.async_wait(net::use_nothrow));
    if (outcome.index() == 1) co_return false;
    auto [ec, n] = std::get<0>(outcome);
    if (keep_) received_.append(buffer_.data(), n);
    total_ += n;
    if (ec) {
      // EOF and reset both mean the peer is gone; a server closing with unread input sends RST.
      closed_ = true;
      co_return false;
    }
    co_return true;
  }

  asio::ip::tcp::socket socket_;
  std::array<char, 64 * 1024> buffer_{};
  std::string received_;
  std::string last_response_;
  std::size_t total_ = 0;
  bool keep_ = true;
  bool closed_ = false;
};

}  // namespace trickle::test
