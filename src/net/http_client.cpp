#include "trickle/net/http_client.hpp"

#include <fmt/format.h>

namespace trickle::net {

using namespace asio::experimental::awaitable_operators;

static awaitable<std::error_code> resolve_and_connect(asio::ip::tcp::socket& socket, const Url& url) {
  asio::ip::tcp::resolver resolver(socket.get_executor());
  auto [ec, endpoints] = co_await resolver.async_resolve(url.host, std::to_string(url.port), use_nothrow);
  if (ec) co_return ec;
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_nothrow);
  co_return connect_ec;
}

awaitable<HttpResult<std::unique_ptr<HttpClientConnection>>> HttpClientConnection::connect(
    Executor executor, const Url& url, Clock::duration timeout, HttpLimits limits, const TlsClientOptions& tls) {
  std::shared_ptr<TlsContext> context;
  if (url.secure) {
    auto made = TlsContext::client(tls);
    if (!made) co_return tl::unexpected(made.error());
    context = std::move(*made);
  }
  asio::ip::tcp::socket socket(executor);
  asio::steady_timer deadline(executor, timeout);
  auto outcome = co_await (resolve_and_connect(socket, url) || deadline.async_wait(use_nothrow));
  if (outcome.index() == 1) {
    co_return http_error(HttpErrc::timeout, fmt::format("connecting to {} timed out", url.authority()));
  }
  if (auto ec = std::get<0>(outcome))
    co_return http_error(HttpErrc::connect_failed,
                         fmt::format("cannot connect to {}: {}", url.authority(), ec.message()));
  if (!context) co_return std::make_unique<HttpClientConnection>(Transport(std::move(socket)), limits, url.authority());

  // The handshake shares the connect deadline: a server that accepts and then says nothing
  // (or is not a TLS server and waits for a request) cannot hold the caller longer.
  Transport transport(std::move(socket), std::move(context));
  auto handshake = co_await (transport.client_handshake(url.host) || deadline.async_wait(use_nothrow));
  if (handshake.index() == 1) {
    transport.close();
    co_return http_error(HttpErrc::timeout, fmt::format("TLS handshake with {} timed out", url.to_string()));
  }
  if (auto ec = std::get<0>(handshake)) {
    transport.close();
    co_return http_error(HttpErrc::connect_failed,
                         fmt::format("TLS handshake with {} failed: {}", url.to_string(), describe_tls_failure(ec)));
  }
  co_return std::make_unique<HttpClientConnection>(std::move(transport), limits, url.authority());
}

// What the overloads without TLS options use: checks off, as upstream PyTrickle.
static const TlsClientOptions& unchecked() {
  static const TlsClientOptions none;
  return none;
}

awaitable<HttpResult<std::unique_ptr<HttpClientConnection>>> HttpClientConnection::connect(Executor executor,
                                                                                           const Url& url,
                                                                                           Clock::duration timeout,
                                                                                           HttpLimits limits) {
  return connect(std::move(executor), url, timeout, limits, unchecked());
}

HttpClientConnection::HttpClientConnection(Transport transport, HttpLimits limits, std::string authority)
    : connection_(std::move(transport), HttpParser::Kind::response, limits), authority_(std::move(authority)) {}

awaitable<HttpResult<void>> HttpClientConnection::send_head(std::string_view method, std::string_view target,
                                                            HttpHeaders headers, BodyMode mode,
                                                            std::size_t content_length) {
  mode_ = mode;
  if (!headers.contains("Host")) headers.add("Host", authority_);
  headers.erase("Content-Length");
  headers.erase("Transfer-Encoding");
  if (mode == BodyMode::content_length || (mode == BodyMode::none && (method == "POST" || method == "PUT")))
    headers.add("Content-Length", std::to_string(mode == BodyMode::none ? 0 : content_length));
  else if (mode == BodyMode::chunked)
    headers.add("Transfer-Encoding", "chunked");
  std::string head = fmt::format("{} {} HTTP/1.1\r\n", method, target.empty() ? "/" : target);
  for (const auto& [name, value] : headers) head += fmt::format("{}: {}\r\n", name, value);
  head += "\r\n";
  co_return co_await connection_.write(head, connection_.limits().write_timeout);
}

awaitable<HttpResult<void>> HttpClientConnection::send_body(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) co_return HttpResult<void>{};
  if (mode_ != BodyMode::chunked) {
    asio::const_buffer one(bytes.data(), bytes.size());
    co_return co_await connection_.write(std::span<const asio::const_buffer>(&one, 1),
                                         connection_.limits().write_timeout);
  }
  std::array<char, 20> size_line;
  auto end = fmt::format_to_n(size_line.data(), size_line.size(), "{:x}\r\n", bytes.size()).out;
  std::array<asio::const_buffer, 3> buffers{
      asio::const_buffer(size_line.data(), static_cast<std::size_t>(end - size_line.data())),
      asio::const_buffer(bytes.data(), bytes.size()), asio::const_buffer("\r\n", 2)};
  co_return co_await connection_.write(buffers, connection_.limits().write_timeout);
}

awaitable<HttpResult<void>> HttpClientConnection::finish_body() {
  if (mode_ != BodyMode::chunked) co_return HttpResult<void>{};
  mode_ = BodyMode::none;
  co_return co_await connection_.write("0\r\n\r\n", connection_.limits().write_timeout);
}

awaitable<HttpResult<ResponseHead>> HttpClientConnection::read_response_head(Clock::duration timeout) {
  auto deadline = deadline_after(timeout);
  // On a keep-alive connection the previous response is done: start parsing the next one, or the
  // parser would keep reporting the old message as complete and never read the new head.
  if (connection_.parser().message_done()) connection_.next_message();
  for (;;) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) co_return http_error(HttpErrc::timeout, "timed out waiting for the response");
    auto head = co_await connection_.read_head(left);
    if (!head) co_return tl::unexpected(head.error());
    auto& parser = connection_.parser();
    int status = parser.response_head().status;
    if (status >= 100 && status < 200 && status != 101) {
      // Interim response (the relay's keep-alive for an idle pre-connected POST): skip it.
      ++interim_responses_;
      auto rest = co_await connection_.read_body(left);  // completes the empty interim message
      if (!rest) co_return tl::unexpected(rest.error());
      connection_.next_message();
      continue;
    }
    co_return parser.response_head();
  }
}

awaitable<HttpResult<std::string>> HttpClientConnection::read_all(std::size_t limit, Clock::duration timeout) {
  std::string out;
  auto deadline = deadline_after(timeout);
  for (;;) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) co_return http_error(HttpErrc::timeout, "timed out reading the body");
    auto piece = co_await read_body(left);
    if (!piece) co_return tl::unexpected(piece.error());
    if (!*piece) co_return out;
    if (out.size() + (*piece)->size() > limit)
      co_return http_error(HttpErrc::body_too_large, fmt::format("response body over {} bytes", limit));
    out.append((*piece)->begin(), (*piece)->end());
  }
}

awaitable<HttpResult<HttpResponse>> http_request(Executor executor, const Url& url, std::string_view method,
                                                 HttpHeaders headers, std::string_view body, Clock::duration timeout,
                                                 std::size_t max_body, const TlsClientOptions& tls) {
  auto deadline = deadline_after(timeout);
  auto connection = co_await HttpClientConnection::connect(executor, url, timeout, {}, tls);
  if (!connection) co_return tl::unexpected(connection.error());
  auto& c = **connection;
  headers.set("Connection", "close");
  auto sent = co_await c.send_head(method, url.target, std::move(headers),
                                   body.empty() ? BodyMode::none : BodyMode::content_length, body.size());
  if (sent && !body.empty())
    sent = co_await c.send_body({reinterpret_cast<const std::uint8_t*>(body.data()), body.size()});
  if (!sent) co_return tl::unexpected(sent.error());
  auto head = co_await c.read_response_head(deadline - Clock::now());
  if (!head) co_return tl::unexpected(head.error());
  HttpResponse response{std::move(*head), {}};
  auto text = co_await c.read_all(max_body, deadline - Clock::now());
  if (!text) co_return tl::unexpected(text.error());
  response.body = std::move(*text);
  co_return response;
}

}  // namespace trickle::net

namespace trickle::net {

awaitable<HttpResult<HttpResponse>> http_request(Executor executor, const Url& url, std::string_view method,
                                                 HttpHeaders headers, std::string_view body, Clock::duration timeout,
                                                 std::size_t max_body) {
  return http_request(std::move(executor), url, method, std::move(headers), body, timeout, max_body, unchecked());
}

}  // namespace trickle::net
