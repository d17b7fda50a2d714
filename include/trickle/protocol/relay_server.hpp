#pragma once
// The trickle relay: the server side of the trickle protocol (docs/protocol.md) over our HTTP server.
//   POST   {base}{channel}/{seq}   publish a segment (streamed body)
//   GET    {base}{channel}/{seq}   subscribe (-1 next, -2 current), bytes trickle as they arrive
//   DELETE {base}{channel}[/{seq}] close the channel, or one segment
//   POST   {base}{channel}         create (mime type from Expect-Content)
//   GET    {base}{channel}/next    the next seq, as text and in Lp-Trickle-Latest

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "trickle/net/http_server.hpp"
#include "trickle/protocol/channel.hpp"
#include "trickle/protocol/relay_route.hpp"

namespace trickle::protocol {

using namespace std::chrono_literals;

struct RelayOptions {
  std::string base_path = "/";
  bool autocreate = false;                        // first POST to an unknown channel creates it
  std::chrono::milliseconds idle_timeout = 5min;  // channels with no new segment for this long close
  std::chrono::milliseconds sweep_interval = 1min;
  std::chrono::milliseconds post_keepalive = 10s;  // idle pre-connected POST gets a 100 this often
  // A POST that sent part of a segment and then nothing for this long is cut off (its readers get
  // the end of the segment): a dead publisher must not hold a segment, or a connection, for ever.
  std::chrono::milliseconds stalled_body_timeout = 30s;
  bool changes_feed = false;  // publish {"added"/"removed"} on channel `_changes`
  net::HttpLimits limits;
  std::optional<net::TlsServerOptions> tls;  // serve https:// (as go-livepeer's relay does)
};

// Headers of the protocol.
inline constexpr std::string_view header_seq = "Lp-Trickle-Seq";
inline constexpr std::string_view header_latest = "Lp-Trickle-Latest";
inline constexpr std::string_view header_closed = "Lp-Trickle-Closed";
inline constexpr std::string_view header_reset = "Lp-Trickle-Reset";
inline constexpr std::string_view changes_channel = "_changes";
inline constexpr int status_not_available = 470;

class RelayServer {
 public:
  RelayServer(net::Executor executor, RelayOptions options = {});
  ~RelayServer();

  // Binds (and with options.tls loads the certificate and key); errors say which failed.
  net::HttpResult<asio::ip::tcp::endpoint> listen(const std::string& host, std::uint16_t port);
  void start();
  // Closes the listener and every channel: waiting readers and pre-connected writers get their
  // end-of-stream answers (within a second), then the connections close.
  void stop();

  // The owner's side: what go-livepeer's gateway does before handing URLs to a worker.
  std::shared_ptr<Channel> create_channel(const std::string& name, std::string mime_type = {});
  bool close_channel(const std::string& name);
  std::shared_ptr<Channel> find_channel(const std::string& name) const;
  std::size_t channel_count() const;
  std::uint16_t port() const { return http_.port(); }
  bool secure() const { return http_.secure(); }
  net::HttpServer& http() { return http_; }

  // A parsed request path (public so the route parser, a free function, can build one).

 private:
  using Awaitable = net::awaitable<void>;
  Awaitable handle(net::ServerRequest& request, net::ServerResponse& response);
  Awaitable publish_segment(net::ServerRequest&, net::ServerResponse&, const RelayRoute&);
  Awaitable subscribe_segment(net::ServerRequest&, net::ServerResponse&, const RelayRoute&);
  Awaitable sweep_loop();
  Awaitable close_connections_when_answered();
  void announce(std::string_view kind, const std::string& name);

  net::Executor executor_;
  RelayOptions options_;
  net::HttpServer http_;
  std::map<std::string, std::shared_ptr<Channel>, std::less<>> channels_;
  std::shared_ptr<Channel> changes_;
  net::AsyncSignal stop_signal_;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trickle::protocol
