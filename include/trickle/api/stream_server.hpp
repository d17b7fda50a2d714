#pragma once

// The C++ worker's HTTP front: upstream PyTrickle's StreamServer routes (StreamApi) served by our
// HttpServer on an io_context of its own. run() blocks until stop() or SIGINT/SIGTERM.

#include <cstdint>
#include <memory>
#include <string>

#include "trickle/api/stream_api.hpp"
#include "trickle/net/http_server.hpp"

namespace trickle::api {

struct StreamServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8000;
  StreamApiOptions api;
  std::size_t max_body_bytes = 1024 * 1024;  // aiohttp's default client_max_size
  net::HttpLimits http_limits;               // connection caps, timeouts (the REST server's)
};

class StreamServer {
 public:
  // One processor: options.api.max_streams must be 1.
  StreamServer(std::shared_ptr<runtime::FrameProcessor> processor, StreamServerOptions options = {});
  // A processor per stream slot (options.api.max_streams of them), made now.
  StreamServer(const ProcessorFactory& make_processor, StreamServerOptions options = {});
  ~StreamServer();
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  // Binds (port 0 picks one) and starts loading the model; returns the bound port.
  net::HttpResult<std::uint16_t> listen();
  // Serves until stop() or a signal; every stream is stopped before it returns.
  void run(bool handle_signals = true);
  // From any thread.
  void stop();

  StreamApi& api() { return *api_; }
  asio::io_context& io_context() { return io_; }

 private:
  void make_http_server();
  net::awaitable<void> serve(net::ServerRequest& request, net::ServerResponse& response);
  net::awaitable<void> shutdown();
  void spawn_shutdown();

  StreamServerOptions options_;
  asio::io_context io_{1};
  std::unique_ptr<StreamApi> api_;
  std::unique_ptr<net::HttpServer> http_;
  bool shutting_down_ = false;
};

}  // namespace trickle::api
