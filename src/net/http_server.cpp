#include "trickle/net/http_server.hpp"

#include <array>

#include "trickle/net/spawn.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace trickle::net {

// ---------------------------------------------------------------------------------------------
// ServerRequest

ServerRequest::ServerRequest(RequestHead head, HttpConnection& connection)
    : head_(std::move(head)), connection_(connection) {}

awaitable<HttpResult<BodyPiece>> ServerRequest::read_body(Clock::duration timeout) {
  if (!continue_sent_ && !connection_.body_done() && head_.headers.has_token("Expect", "100-continue")) {
    continue_sent_ = true;
    auto sent = co_await connection_.write("HTTP/1.1 100 Continue\r\n\r\n", connection_.limits().write_timeout);
    if (!sent) co_return tl::unexpected(sent.error());
  }
  co_return co_await connection_.read_body(timeout);
}

awaitable<HttpResult<std::string>> ServerRequest::read_all(std::size_t limit, Clock::duration timeout) {
  std::string out;
  auto deadline = deadline_after(timeout);
  for (;;) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) co_return http_error(HttpErrc::timeout, "timed out reading the body");
    auto piece = co_await read_body(left);
    if (!piece) co_return tl::unexpected(piece.error());
    if (!*piece) co_return out;
    if (out.size() + (*piece)->size() > limit)
      co_return http_error(HttpErrc::body_too_large, fmt::format("body over {} bytes", limit));
    out.append((*piece)->begin(), (*piece)->end());
  }
}

// ---------------------------------------------------------------------------------------------
// ServerResponse

bool ServerRequest::body_may_follow() const {
  return continue_sent_ || !head_.headers.has_token("Expect", "100-continue");
}

ServerResponse::ServerResponse(HttpConnection& connection, const ServerRequest& request, bool keep_alive,
                               bool head_only)
    : connection_(connection), request_(&request), keep_alive_(keep_alive), head_only_(head_only) {}

// Like Go's net/http (go-livepeer's server): before answering a request whose body is still
// arriving (a 404 to a streaming POST), read and drop up to 256 KiB of it, so a client that writes
// its whole body before reading (aiohttp does) finishes and then finds the answer. A longer body
// gets the answer at once and the connection is closed after it, with a lingering close.
// Only whole answers (send) drain: a streamed one (start) may be a full-duplex reply to the body
// the handler goes on reading. And a handler that asked to close (close_after) is answered at once,
// the lingering close letting the client finish: an idle pre-connected POST released by a DELETE
// must not wait out the drain for a body that is not coming.
awaitable<void> ServerResponse::drain_unread_body() {
  if (connection_.body_done() || close_after_) co_return;
  if (!request_->body_may_follow()) {
    keep_alive_ = false;
    co_return;
  }
  constexpr std::size_t limit = 256 * 1024;
  bool drained = co_await connection_.discard_body(limit, std::chrono::seconds(10));
  if (!drained) keep_alive_ = false;
}

awaitable<HttpResult<void>> ServerResponse::send_interim(int status) {
  if (started_) co_return http_error(HttpErrc::io, "interim response after the final one started");
  co_return co_await connection_.write(fmt::format("HTTP/1.1 {} {}\r\n\r\n", status, reason_phrase(status)),
                                       connection_.limits().write_timeout);
}

std::string ServerResponse::build_head(int status, HttpHeaders& headers, std::optional<std::size_t> content_length) {
  if (headers.has_token("Connection", "close")) keep_alive_ = false;
  no_body_ = head_only_ || status == 204 || status == 304;
  headers.erase("Content-Length");
  headers.erase("Transfer-Encoding");
  if (content_length) {
    headers.add("Content-Length", std::to_string(*content_length));
  } else if (status != 204 && status != 304) {
    headers.add("Transfer-Encoding", "chunked");
    chunked_ = true;
  }
  if (!keep_alive_) headers.set("Connection", "close");
  std::string head = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  for (const auto& [name, value] : headers) head += fmt::format("{}: {}\r\n", name, value);
  head += "\r\n";
  return head;
}

awaitable<HttpResult<void>> ServerResponse::start(int status, HttpHeaders headers,
                                                  std::optional<std::size_t> content_length, bool flush) {
  if (started_) co_return http_error(HttpErrc::io, "response already started");
  started_ = true;
  status_ = status;
  content_length_ = content_length;
  pending_head_ = build_head(status, headers, content_length);
  if (!flush) co_return HttpResult<void>{};
  std::string head = std::move(pending_head_);
  pending_head_.clear();
  co_return co_await connection_.write(head, connection_.limits().write_timeout);
}

awaitable<HttpResult<void>> ServerResponse::write(std::span<const std::uint8_t> bytes) {
  std::array<std::span<const std::uint8_t>, 1> one{bytes};
  co_return co_await write_pieces(one);
}

awaitable<HttpResult<void>> ServerResponse::write_pieces(std::span<const std::span<const std::uint8_t>> pieces) {
  if (!started_ || finished_) co_return http_error(HttpErrc::io, "write outside a started response");
  std::vector<asio::const_buffer> buffers;
  std::vector<std::array<char, 20>> sizes(chunked_ ? pieces.size() : 0);
  buffers.reserve(pieces.size() * 3 + 1);
  if (!pending_head_.empty()) buffers.emplace_back(asio::buffer(pending_head_));
  if (!no_body_) {
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const auto& piece = pieces[i];
      if (piece.empty()) continue;  // an empty chunk would end a chunked body
      if (chunked_) {
        auto end = fmt::format_to_n(sizes[i].data(), sizes[i].size(), "{:x}\r\n", piece.size()).out;
        buffers.emplace_back(sizes[i].data(), static_cast<std::size_t>(end - sizes[i].data()));
      }
      buffers.emplace_back(piece.data(), piece.size());
      if (chunked_) buffers.emplace_back("\r\n", 2);
      written_ += piece.size();
    }
  }
  if (content_length_ && written_ > *content_length_)
    co_return http_error(HttpErrc::io, "wrote more than the announced Content-Length");
  if (buffers.empty()) co_return HttpResult<void>{};
  auto result = co_await connection_.write(buffers, connection_.limits().write_timeout);
  pending_head_.clear();
  co_return result;
}

awaitable<HttpResult<void>> ServerResponse::finish() {
  if (!started_) co_return http_error(HttpErrc::io, "finish before start");
  if (finished_) co_return HttpResult<void>{};
  finished_ = true;
  std::string tail = std::move(pending_head_);
  pending_head_.clear();
  if (chunked_ && !no_body_) tail += "0\r\n\r\n";
  if (content_length_ && written_ != *content_length_ && !no_body_) {
    keep_alive_ = false;  // the peer cannot find the next response's start: close
    connection_.close();
    co_return http_error(HttpErrc::io, "body shorter than the announced Content-Length");
  }
  if (tail.empty()) co_return HttpResult<void>{};
  co_return co_await connection_.write(tail, connection_.limits().write_timeout);
}

awaitable<HttpResult<void>> ServerResponse::send(int status, HttpHeaders headers, std::string_view body) {
  if (started_) co_return http_error(HttpErrc::io, "response already started");
  co_await drain_unread_body();
  started_ = true;
  finished_ = true;
  status_ = status;
  std::string out = build_head(status, headers, body.size());
  if (!no_body_) out.append(body);
  co_return co_await connection_.write(out, connection_.limits().write_timeout);
}

// ---------------------------------------------------------------------------------------------
// HttpServer

static std::string endpoint_text(const asio::ip::tcp::socket& socket) {
  std::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("a closed connection")
            : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

// (GCC 12 miscompiles braced header lists written inside co_await expressions; build them here.)
static HttpHeaders plain_text() { return HttpHeaders{{"Content-Type", "text/plain"}}; }

HttpServer::HttpServer(Executor executor, HttpHandler handler, HttpLimits limits)
    : executor_(executor), handler_(std::move(handler)), limits_(limits), acceptor_(executor) {}

HttpServer::~HttpServer() {
  *alive_ = false;
  stop();
}

HttpResult<asio::ip::tcp::endpoint> HttpServer::listen(const std::string& host, std::uint16_t port) {
  std::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return http_error(HttpErrc::connect_failed, fmt::format("bad listen address '{}': {}", host, ec.message()));
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return http_error(HttpErrc::connect_failed, fmt::format("cannot listen on {}:{}: {}", host, port, ec.message()));
  auto local = acceptor_.local_endpoint(ec);
  port_ = local.port();
  return local;
}

HttpResult<void> HttpServer::use_tls(const TlsServerOptions& options) {
  auto context = TlsContext::server(options);
  if (!context) return tl::unexpected(context.error());
  tls_ = std::move(*context);
  return {};
}

void HttpServer::start() { spawn(executor_, accept_loop(), "http accept loop"); }

void HttpServer::stop() {
  stop_accepting();
  for (auto* connection : connections_) connection->close();
}

void HttpServer::stop_accepting() {
  stopping_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
}

// Counts a session, in total and by its peer's address, from the accept until the session ends.
class HttpServer::ClientSlot {
 public:
  ClientSlot(HttpServer& server, asio::ip::address client) : server_(&server), client_(client), alive_(server.alive_) {
    ++server_->accepted_;
    ++server_->per_client_[client_];
  }
  ClientSlot(ClientSlot&& other) noexcept
      : server_(std::exchange(other.server_, nullptr)), client_(other.client_), alive_(std::move(other.alive_)) {}
  ClientSlot(const ClientSlot&) = delete;
  ClientSlot& operator=(const ClientSlot&) = delete;
  ClientSlot& operator=(ClientSlot&&) = delete;
  ~ClientSlot() {
    if (!server_ || !*alive_) return;
    --server_->accepted_;
    auto it = server_->per_client_.find(client_);
    if (it != server_->per_client_.end() && --it->second == 0) server_->per_client_.erase(it);
  }

 private:
  HttpServer* server_;
  asio::ip::address client_;
  std::shared_ptr<bool> alive_;
};

awaitable<void> HttpServer::accept_loop() {
  auto alive = alive_;
  while (*alive && !stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (!*alive || stopping_) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      // Out of descriptors and the like: back off instead of spinning.
      co_await sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    std::error_code peer_error;
    auto peer = socket.remote_endpoint(peer_error);
    if (peer_error) continue;  // already gone
    if (over_connection_limits(peer.address())) {
      ++refused_;
      spawn(executor_, refuse(std::move(socket)), "refusing a connection");
      continue;
    }
    spawn(executor_, session(std::move(socket), ClientSlot(*this, peer.address())), "http session");
  }
}

bool HttpServer::over_connection_limits(const asio::ip::address& client) const {
  if (limits_.max_connections && accepted_ >= limits_.max_connections) return true;
  if (!limits_.max_connections_per_client) return false;
  auto it = per_client_.find(client);
  return it != per_client_.end() && it->second >= limits_.max_connections_per_client;
}

// Past a connection limit: a plain 503 (over TLS the connection is closed without one, since the
// handshake would cost what the limit saves), then a short linger so the answer is not lost to a
// reset over the request still unread.
awaitable<void> HttpServer::refuse(asio::ip::tcp::socket socket) {
  if (refused_ == 1 || refused_ % 1000 == 0)  // a flood must not flood the log too
    spdlog::warn("connection from {} refused ({} so far): {} open, at most {} in all and {} per client",
                 endpoint_text(socket), refused_, accepted_, limits_.max_connections,
                 limits_.max_connections_per_client);
  if (!tls_) {
    constexpr std::string_view body = "Too many connections\n";
    auto answer = fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        body.size(), body);
    co_await asio::async_write(socket, asio::buffer(answer), use_nothrow);
    std::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    asio::steady_timer deadline(socket.get_executor(), std::chrono::seconds(1));
    deadline.async_wait([&socket](std::error_code ec) {
      std::error_code ignored_too;
      if (!ec) socket.close(ignored_too);
    });
    std::array<char, 4096> sink{};
    for (std::size_t drained = 0; drained < 64 * 1024;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(sink), use_nothrow);
      if (ec) break;
      drained += n;
    }
    deadline.cancel();
  }
  std::error_code ignored;
  socket.close(ignored);
}

// An early answer (a 404 to a streaming POST, say) must reach a client that is still sending its
// body: closing at once would reset the connection under the client before it reads the answer.
// So the answer is followed by a half-close, and the rest of the body is read and dropped (bounded
// in bytes and time) until the client finishes or gives up; only then is the socket closed.
static awaitable<void> linger(HttpConnection& connection) {
  std::error_code ignored;
  connection.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  co_await connection.discard_body(16 * 1024 * 1024, std::chrono::seconds(5));
}

// The server's side of the TLS handshake, bounded by the header timeout (a client that connects
// and says nothing is dropped as one that sends no request). What a client sends first tells a
// TLS ClientHello (a handshake record, 0x16) from plain HTTP; the latter gets Go's answer
// instead of a handshake failure it could not read.
awaitable<bool> HttpServer::accept_tls(HttpConnection& connection) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(executor_, limits_.header_timeout);
  std::array<std::uint8_t, 1> first{};
  auto peeked =
      co_await (connection.socket().async_receive(asio::buffer(first), asio::socket_base::message_peek, use_nothrow) ||
                deadline.async_wait(use_nothrow));
  if (peeked.index() == 1 || std::get<0>(std::get<0>(peeked)) || std::get<1>(std::get<0>(peeked)) == 0) co_return false;
  constexpr std::uint8_t tls_handshake_record = 0x16;
  if (first[0] != tls_handshake_record) {
    constexpr std::string_view answer =
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    co_await asio::async_write(connection.socket(), asio::buffer(answer), use_nothrow);
    co_return false;
  }
  auto handshake = co_await (connection.transport().server_handshake() || deadline.async_wait(use_nothrow));
  if (handshake.index() == 1) co_return false;
  if (auto ec = std::get<0>(handshake)) {
    spdlog::debug("TLS handshake from {} failed: {}", endpoint_text(connection.socket()), ec.message());
    co_return false;
  }
  co_return true;
}

// While a session runs, stop() can reach its connection; however the session ends (an exception
// included), the server forgets it, unless the server itself is gone.
class HttpServer::Registration {
 public:
  Registration(HttpServer& server, HttpConnection& connection)
      : server_(server), connection_(connection), alive_(server.alive_) {
    server_.connections_.insert(&connection_);
  }
  ~Registration() {
    if (!*alive_) return;
    server_.connections_.erase(&connection_);
    connection_.close();
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  HttpServer& server_;
  HttpConnection& connection_;
  std::shared_ptr<bool> alive_;
};

awaitable<void> HttpServer::session(asio::ip::tcp::socket socket, ClientSlot slot) {
  auto alive = alive_;
  Transport transport = tls_ ? Transport(std::move(socket), tls_) : Transport(std::move(socket));
  auto connection = std::make_unique<HttpConnection>(std::move(transport), HttpParser::Kind::request, limits_);
  Registration registered(*this, *connection);
  if (tls_) {
    bool secured = co_await accept_tls(*connection);
    if (!*alive || !secured) co_return;
  }
  bool first = true;
  while (*alive && connection->is_open() && !stopping_) {
    auto head = co_await connection->read_head(first ? limits_.header_timeout : limits_.idle_timeout);
    if (!*alive) co_return;
    if (!head) {
      if (int status = head.error().status()) {
        spdlog::debug("bad request: {}", head.error().message);
        ServerRequest nothing({}, *connection);
        ServerResponse reply(*connection, nothing, false, false);
        HttpHeaders headers = plain_text();
        co_await reply.send(status, std::move(headers), head.error().message + "\n");
      } else if (head.error().code == HttpErrc::timeout && !first) {
        // idle keep-alive connection: close quietly
      }
      break;
    }
    first = false;
    auto& parser = connection->parser();
    ServerRequest request(std::move(parser.request_head()), *connection);
    bool keep_alive = parser.keep_alive() && !stopping_;
    ServerResponse response(*connection, request, keep_alive, request.method() == "HEAD");

    std::string failure;
    try {
      co_await handler_(request, response);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!*alive) co_return;
    if (!failure.empty())
      spdlog::error("handler for {} {} threw: {}", request.method(), request.head().target, failure);
    if (!response.finished()) {
      if (!response.started() && connection->is_open()) {
        response.close_after();
        HttpHeaders headers = plain_text();
        co_await response.send(500, std::move(headers), "internal error\n");
      }
      break;  // a half-sent response cannot be repaired: close
    }
    bool body_unread = !connection->body_done();
    if (!response.keep_alive() || !connection->is_open()) {
      if (body_unread && connection->is_open()) co_await linger(*connection);
      break;
    }
    if (body_unread) {
      bool drained = co_await connection->discard_body(64 * 1024, std::chrono::seconds(5));
      if (!drained) {
        co_await linger(*connection);
        break;
      }
    }
    connection->next_message();
  }
}

}  // namespace trickle::net
