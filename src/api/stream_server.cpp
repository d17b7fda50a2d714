#include "trickle/api/stream_server.hpp"

#include <csignal>

#include <spdlog/spdlog.h>

#include "trickle/api/stream_id.hpp"
#include "trickle/net/spawn.hpp"

namespace trickle::api {

using namespace std::chrono_literals;

StreamServer::StreamServer(std::shared_ptr<runtime::FrameProcessor> processor, StreamServerOptions options)
    : options_(std::move(options)) {
  api_ = std::make_unique<StreamApi>(io_.get_executor(), std::move(processor), options_.api);
  make_http_server();
}

StreamServer::StreamServer(const ProcessorFactory& make_processor, StreamServerOptions options)
    : options_(std::move(options)) {
  api_ = std::make_unique<StreamApi>(io_.get_executor(), make_processor, options_.api);
  make_http_server();
}

void StreamServer::make_http_server() {
  http_ = std::make_unique<net::HttpServer>(
      io_.get_executor(),
      [this](net::ServerRequest& request, net::ServerResponse& response) { return serve(request, response); },
      options_.http_limits);
}

StreamServer::~StreamServer() {
  http_.reset();
  api_.reset();
}

net::HttpResult<std::uint16_t> StreamServer::listen() {
  auto endpoint = http_->listen(options_.host, options_.port);
  if (!endpoint) return tl::unexpected(endpoint.error());
  http_->start();
  api_->start_loading();
  return http_->port();
}

net::awaitable<void> StreamServer::serve(net::ServerRequest& request, net::ServerResponse& response) {
  ApiRequest api_request;
  api_request.method = std::string(request.method());
  api_request.path = std::string(request.path());
  api_request.content_type = std::string(request.headers().get("Content-Type").value_or(""));
  api_request.authorization = std::string(request.headers().get("Authorization").value_or(""));
  if (auto stream_id = request.headers().get(stream_id_header)) api_request.stream_id = std::string(*stream_id);
  auto body = co_await request.read_all(options_.max_body_bytes, 30s);
  if (body) {
    api_request.body = std::move(*body);
  } else {
    // The rest of the message was not read: this connection carries no other request.
    response.close_after();
    const int status = body.error().status();
    if (status == 0) co_return;  // cut short or too slow: nobody to answer
    if (status != 413) {         // malformed framing: the transport answers
      net::HttpHeaders headers;
      headers.add("Content-Type", "text/plain; charset=utf-8");
      co_await response.send(status, std::move(headers), body.error().message);
      co_return;
    }
    // Too large: the route decides, as upstream's handlers do (a route that reads the body
    // answers 400 "... Request Entity Too Large", one that does not never notices).
    api_request.body_too_large = true;
  }
  ApiResponse answer = co_await api_->handle(std::move(api_request));
  net::HttpHeaders headers;
  headers.add("Content-Type", answer.content_type);
  for (auto& [name, value] : answer.headers) headers.add(name, value);
  co_await response.send(answer.status, std::move(headers), answer.body);
}

// If shutting down throws, the loop still stops: run() must return.
void StreamServer::spawn_shutdown() {
  net::spawn(io_.get_executor(), shutdown(), "shutting the server down", [this](std::exception_ptr) { io_.stop(); });
}

net::awaitable<void> StreamServer::shutdown() {
  if (shutting_down_) co_return;
  shutting_down_ = true;
  http_->stop();
  co_await api_->stop();
  io_.stop();
}

void StreamServer::run(bool handle_signals) {
  std::optional<asio::signal_set> signals;
  if (handle_signals) {
    signals.emplace(io_, SIGINT, SIGTERM);
    signals->async_wait([this](const std::error_code& ec, int) {
      if (!ec) spawn_shutdown();
    });
  }
  io_.run();
}

void StreamServer::stop() {
  asio::post(io_, [this] { spawn_shutdown(); });
}

}  // namespace trickle::api
