#pragma once
// HTTP/1.1 client over one connection: send a request head, stream the body (chunked or
// Content-Length), read the response head (interim 1xx responses skipped) and stream its body.
// Reading and writing may run concurrently (a streaming POST can learn of an early error reply).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "trickle/net/asio.hpp"
#include "trickle/net/http_connection.hpp"
#include "trickle/net/http_message.hpp"
#include "trickle/net/tls.hpp"
#include "trickle/net/url.hpp"

namespace trickle::net {

enum class BodyMode { none, content_length, chunked };

class HttpClientConnection {
 public:
  // Resolves, connects and, for https://, does the TLS handshake; `timeout` bounds all three.
  // `tls` applies to https:// URLs only (and must outlive the call); without it certificates
  // are not checked.
  static awaitable<HttpResult<std::unique_ptr<HttpClientConnection>>> connect(Executor executor, const Url& url,
                                                                              Clock::duration timeout,
                                                                              HttpLimits limits,
                                                                              const TlsClientOptions& tls);
  // (Overloads, not default arguments: GCC 12 destroys a defaulted temporary twice when the
  // call is co_awaited.)
  static awaitable<HttpResult<std::unique_ptr<HttpClientConnection>>> connect(Executor executor, const Url& url,
                                                                              Clock::duration timeout,
                                                                              HttpLimits limits = {});

  HttpClientConnection(Transport transport, HttpLimits limits, std::string authority);

  awaitable<HttpResult<void>> send_head(std::string_view method, std::string_view target, HttpHeaders headers,
                                        BodyMode mode = BodyMode::none, std::size_t content_length = 0);
  // One piece of request body (one chunk when chunked); empty pieces are skipped.
  awaitable<HttpResult<void>> send_body(std::span<const std::uint8_t> bytes);
  awaitable<HttpResult<void>> finish_body();

  // The final response head; 1xx interim responses are counted and skipped.
  awaitable<HttpResult<ResponseHead>> read_response_head(Clock::duration timeout);
  awaitable<HttpResult<BodyPiece>> read_body(Clock::duration timeout) { return connection_.read_body(timeout); }
  awaitable<HttpResult<std::string>> read_all(std::size_t limit, Clock::duration timeout);

  int interim_responses() const { return interim_responses_; }
  bool keep_alive() const { return connection_.parser().keep_alive(); }
  bool is_open() const { return connection_.is_open(); }
  void close() { connection_.close(); }
  HttpConnection& connection() { return connection_; }

 private:
  HttpConnection connection_;
  std::string authority_;
  BodyMode mode_ = BodyMode::none;
  int interim_responses_ = 0;
};

struct HttpResponse {
  ResponseHead head;
  std::string body;
};

// One complete request on a fresh connection (closed afterwards): for DELETEs, small GETs, tests.
// `tls` as for connect(); without it certificates are not checked.
awaitable<HttpResult<HttpResponse>> http_request(Executor executor, const Url& url, std::string_view method,
                                                 HttpHeaders headers, std::string_view body, Clock::duration timeout,
                                                 std::size_t max_body, const TlsClientOptions& tls);
awaitable<HttpResult<HttpResponse>> http_request(Executor executor, const Url& url, std::string_view method,
                                                 HttpHeaders headers = {}, std::string_view body = {},
                                                 Clock::duration timeout = std::chrono::seconds(10),
                                                 std::size_t max_body = 16 * 1024 * 1024);

}  // namespace trickle::net
