#pragma once
// HTTP/1.1 server: an accept loop that co_spawns one coroutine per connection; each connection
// serves its requests one after another (keep-alive) and hands each to the handler with a
// streaming body reader and a streaming response writer.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>

#include "trickle/net/asio.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/net/http_connection.hpp"
#include "trickle/net/http_message.hpp"
#include "trickle/net/tls.hpp"

namespace trickle::net {

class ServerRequest {
 public:
  ServerRequest(RequestHead head, HttpConnection& connection);

  const RequestHead& head() const { return head_; }
  std::string_view method() const { return head_.method; }
  std::string_view path() const { return head_.path(); }
  const HttpHeaders& headers() const { return head_.headers; }

  // The next piece of body as it arrives (nullopt: ended). Answers `Expect: 100-continue` first.
  awaitable<HttpResult<BodyPiece>> read_body(Clock::duration timeout = Clock::duration::max());
  // The whole body, refusing more than `limit` bytes.
  awaitable<HttpResult<std::string>> read_all(std::size_t limit, Clock::duration timeout);
  bool body_done() const { return connection_.body_done(); }
  // False while the client waits for a `100 Continue` we have not sent: its body is not coming.
  bool body_may_follow() const;

  HttpConnection& connection() { return connection_; }

 private:
  RequestHead head_;
  HttpConnection& connection_;
  bool continue_sent_ = false;
};

class ServerResponse {
 public:
  ServerResponse(HttpConnection& connection, const ServerRequest& request, bool keep_alive, bool head_only);

  // A 1xx interim response (100 Continue as a keep-alive while the request body is idle).
  awaitable<HttpResult<void>> send_interim(int status);

  // Starts the response: Content-Length when `content_length` is given, chunked otherwise.
  // With `flush` false the head waits and goes out with the first body bytes (one packet).
  awaitable<HttpResult<void>> start(int status, HttpHeaders headers,
                                    std::optional<std::size_t> content_length = std::nullopt, bool flush = true);
  awaitable<HttpResult<void>> write(std::span<const std::uint8_t> bytes);
  // Several pieces in one gather write (each its own chunk when chunked); the bytes are not copied.
  awaitable<HttpResult<void>> write_pieces(std::span<const std::span<const std::uint8_t>> pieces);
  awaitable<HttpResult<void>> finish();

  // A whole response in one write.
  awaitable<HttpResult<void>> send(int status, HttpHeaders headers, std::string_view body = {});

  // Asks for the connection to be closed once this response is done.
  // Also skips draining an unread request body first: the answer goes out at once.
  void close_after() {
    keep_alive_ = false;
    close_after_ = true;
  }
  bool keep_alive() const { return keep_alive_; }
  bool started() const { return started_; }
  bool finished() const { return finished_; }
  int status() const { return status_; }

 private:
  std::string build_head(int status, HttpHeaders& headers, std::optional<std::size_t> content_length);
  awaitable<void> drain_unread_body();

  HttpConnection& connection_;
  const ServerRequest* request_;
  bool keep_alive_;
  bool close_after_ = false;
  bool head_only_;
  bool started_ = false, finished_ = false, chunked_ = false, no_body_ = false;
  int status_ = 0;
  std::optional<std::size_t> content_length_;
  std::size_t written_ = 0;
  std::string pending_head_;
};

using HttpHandler = std::function<awaitable<void>(ServerRequest&, ServerResponse&)>;

class HttpServer {
 public:
  HttpServer(Executor executor, HttpHandler handler, HttpLimits limits = {});
  ~HttpServer();

  // Binds and listens; port 0 picks a free port. Call before start().
  HttpResult<asio::ip::tcp::endpoint> listen(const std::string& host, std::uint16_t port);
  // Serves https:// instead of http:// (before start()): loads the certificate and key; a client
  // that speaks plain HTTP to this port is answered 400, as Go's servers do.
  HttpResult<void> use_tls(const TlsServerOptions& options);
  bool secure() const { return tls_ != nullptr; }
  void start();
  // Closes the listener and every connection: in-flight handlers see their socket fail at once.
  void stop();
  // Closes the listener only; connections already open are served on (until stop()).
  void stop_accepting();

  std::uint16_t port() const { return port_; }
  std::size_t connection_count() const { return connections_.size(); }
  // Connections refused by limits.max_connections / max_connections_per_client (503 and close).
  std::size_t refused_count() const { return refused_; }
  const HttpLimits& limits() const { return limits_; }

 private:
  awaitable<void> accept_loop();
  class Registration;
  class ClientSlot;
  awaitable<void> session(asio::ip::tcp::socket socket, ClientSlot slot);
  bool over_connection_limits(const asio::ip::address& client) const;
  awaitable<void> refuse(asio::ip::tcp::socket socket);
  awaitable<bool> accept_tls(HttpConnection& connection);

  Executor executor_;
  HttpHandler handler_;
  HttpLimits limits_;
  std::shared_ptr<TlsContext> tls_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool stopping_ = false;
  std::unordered_set<HttpConnection*> connections_;
  std::size_t accepted_ = 0;                             // sessions not yet ended
  std::map<asio::ip::address, std::size_t> per_client_;  // the same, by the peer's address
  std::size_t refused_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trickle::net
