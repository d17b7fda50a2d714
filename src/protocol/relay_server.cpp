#include "trickle/protocol/relay_server.hpp"

#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "trickle/net/spawn.hpp"

namespace trickle::protocol {

using net::awaitable;
using net::HttpHeaders;
using namespace asio::experimental::awaitable_operators;

// (GCC 12 miscompiles braced header lists written inside co_await expressions, so every response's
// headers are built by these plain functions first.)
static HttpHeaders text_headers(bool close = false) {
  HttpHeaders headers{{"Content-Type", "text/plain"}};
  if (close) headers.add("Connection", "close");
  return headers;
}

// The live edge, as /next and a 470 give it.
static HttpHeaders latest_headers(const Channel& channel) {
  HttpHeaders headers = text_headers();
  headers.add(std::string(header_latest), std::to_string(channel.next_write()));
  return headers;
}

// A 470 names the live edge and, as go-livepeer's server does, the seq that was asked for (Go's
// subscriber builds its error from it).
static HttpHeaders not_available_headers(const Channel& channel, std::int64_t asked) {
  HttpHeaders headers = latest_headers(channel);
  headers.add(std::string(header_seq), std::to_string(asked));
  return headers;
}

// A GET that was waiting on a segment when its channel was deleted: go-livepeer's answer says
// which seq it was and where the edge is, beside Lp-Trickle-Closed.
static HttpHeaders closed_while_waiting_headers(const Channel& channel, std::int64_t seq) {
  HttpHeaders headers;
  headers.add(std::string(header_closed), "terminated");
  headers.add(std::string(header_seq), std::to_string(seq));
  headers.add(std::string(header_latest), std::to_string(channel.next_write()));
  return headers;
}

RelayServer::RelayServer(net::Executor executor, RelayOptions options)
    : executor_(executor),
      options_(std::move(options)),
      http_(
          executor, [this](net::ServerRequest& rq, net::ServerResponse& rs) { return handle(rq, rs); },
          options_.limits),
      stop_signal_(executor) {
  options_.base_path = normalise_base_path(options_.base_path);
  if (options_.changes_feed) {
    changes_ = std::make_shared<Channel>(executor_, std::string(changes_channel), "application/json");
    channels_.emplace(std::string(changes_channel), changes_);
  }
}

RelayServer::~RelayServer() {
  *alive_ = false;
  stop();
}

net::HttpResult<asio::ip::tcp::endpoint> RelayServer::listen(const std::string& host, std::uint16_t port) {
  if (options_.tls) {
    if (auto tls = http_.use_tls(*options_.tls); !tls) return tl::unexpected(tls.error());
  }
  return http_.listen(host, port);
}

void RelayServer::start() {
  http_.start();
  net::spawn(executor_, sweep_loop(), "the relay's idle sweep");
}

void RelayServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_signal_.notify_all();
  http_.stop_accepting();
  for (auto& [name, channel] : channels_) channel->close();
  if (*alive_)
    net::spawn(executor_, close_connections_when_answered(), "the relay's stop");
  else
    http_.stop();  // being destroyed: no time for answers
}

// The readers and writers released by stop() answer on their own connections first, as
// go-livepeer's server answers them when its streams are cleared; a connection that stays open
// (an idle keep-alive, a client that does not read) is closed after a second.
awaitable<void> RelayServer::close_connections_when_answered() {
  auto alive = alive_;
  auto deadline = net::deadline_after(std::chrono::seconds(1));
  while (*alive && http_.connection_count() > 0 && net::Clock::now() < deadline)
    co_await net::sleep_for(std::chrono::milliseconds(10));
  if (*alive) http_.stop();
}

std::shared_ptr<Channel> RelayServer::create_channel(const std::string& name, std::string mime_type) {
  if (auto it = channels_.find(name); it != channels_.end()) {
    it->second->set_mime_type_if_unset(mime_type);
    return it->second;
  }
  auto channel = std::make_shared<Channel>(executor_, name, std::move(mime_type));
  channels_[name] = channel;
  spdlog::info("channel {} created", name);
  announce("added", name);
  return channel;
}

bool RelayServer::close_channel(const std::string& name) {
  auto it = channels_.find(name);
  if (it == channels_.end() || it->second == changes_) return false;
  // Forgotten at once, as go-livepeer's server does: requests that come later get 404, the answer
  // every client must handle anyway (it is what a swept or never-created channel gets).
  auto channel = std::move(it->second);
  channels_.erase(it);
  channel->close();
  spdlog::info("channel {} closed", name);
  announce("removed", name);
  return true;
}

std::shared_ptr<Channel> RelayServer::find_channel(const std::string& name) const {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second;
}

std::size_t RelayServer::channel_count() const { return channels_.size() - (changes_ ? 1 : 0); }

void RelayServer::announce(std::string_view kind, const std::string& name) {
  if (!changes_ || name == changes_channel) return;
  nlohmann::json event{{std::string(kind), nlohmann::json::array({name})}};
  auto text = event.dump();
  auto seq = changes_->next_write();
  auto segment = changes_->open_for_write(seq, false);
  changes_->mark_written(seq);
  segment->append(std::make_shared<const Bytes>(text.begin(), text.end()));
  segment->close();
}

awaitable<void> RelayServer::handle(net::ServerRequest& request, net::ServerResponse& response) {
  auto route = parse_relay_route(request.path(), options_.base_path);
  auto method = request.method();
  if (!route) {
    co_await response.send(404, text_headers(), "Not found\n");
    co_return;
  }
  using Kind = RelayRoute::Kind;
  if (route->kind == Kind::segment && !route->seq_valid &&
      (method == "GET" || method == "POST" || method == "DELETE")) {
    co_await response.send(400, text_headers(), "Invalid idx\n");
    co_return;
  }
  if (method == "POST" && route->kind == Kind::segment) {
    co_await publish_segment(request, response, *route);
  } else if ((method == "GET" || method == "HEAD") && route->kind == Kind::segment) {
    co_await subscribe_segment(request, response, *route);
  } else if (method == "POST" && route->kind == Kind::channel) {
    if (route->channel == changes_channel) {
      co_await response.send(400, text_headers(), "Reserved channel\n");
      co_return;
    }
    // Over HTTP only with autocreate, as go-livepeer's handleCreate: otherwise channels are the
    // owner's to make (create_channel, `trickle serve --channel`), not any client's.
    if (!options_.autocreate && !find_channel(route->channel)) {
      co_await response.send(404, text_headers(), "Stream not found\n");
      co_return;
    }
    auto mime = request.headers().get("Expect-Content").value_or(request.headers().get("Content-Type").value_or(""));
    create_channel(route->channel, std::string(mime));
    co_await response.send(200, text_headers(), "");
  } else if (method == "GET" && route->kind == Kind::next) {
    auto channel = find_channel(route->channel);
    if (!channel) {
      co_await response.send(404, text_headers(true), "Stream not found\n");
      co_return;
    }
    auto headers = latest_headers(*channel);
    co_await response.send(200, std::move(headers), std::to_string(channel->next_write()));
  } else if (method == "DELETE" && route->kind == Kind::channel) {
    if (route->channel == changes_channel) {
      co_await response.send(400, text_headers(), "Reserved channel\n");
    } else if (close_channel(route->channel)) {
      co_await response.send(200, text_headers(), "");
    } else {
      // An unknown channel, or one deleted already: go-livepeer's closeStream error, as a 400.
      co_await response.send(400, text_headers(), "Invalid stream\n");
    }
  } else if (method == "DELETE" && route->kind == Kind::segment) {
    auto channel = find_channel(route->channel);
    if (!channel) {
      co_await response.send(404, text_headers(true), "Stream not found\n");
    } else if (!channel->close_segment(route->seq)) {
      co_await response.send(400, text_headers(), "Segment not found\n");
    } else {
      co_await response.send(200, text_headers(), "");
    }
  } else {
    co_await response.send(405, text_headers(), "Method not allowed\n");
  }
}

awaitable<void> RelayServer::publish_segment(net::ServerRequest& request, net::ServerResponse& response,
                                             const RelayRoute& route) {
  auto alive = alive_;
  if (route.channel == changes_channel) {
    co_await response.send(400, text_headers(), "Reserved channel\n");
    co_return;
  }
  auto content_type = std::string(request.headers().get("Content-Type").value_or(""));
  auto channel = find_channel(route.channel);
  if (!channel) {
    if (!options_.autocreate) {
      co_await response.send(404, text_headers(true), "Stream not found\n");
      co_return;
    }
    channel = create_channel(route.channel, content_type);
  }
  channel->set_mime_type_if_unset(content_type);
  std::int64_t seq = route.seq == -1 ? channel->next_write() : route.seq;
  if (seq < 0) {
    co_await response.send(400, text_headers(), "Invalid idx\n");
    co_return;
  }
  auto segment = channel->open_for_write(seq, request.headers().contains(header_reset));

  bool wrote_any = false, failed = false, released = false;
  auto last_byte_at = net::Clock::now();
  int failure_status = 500;  // "error reading a POST body", unless the parser knows better
  for (;;) {
    // Wait for body bytes, but also for the segment being closed under us (DELETE, channel
    // closed, slot reused) and, while nothing has arrived, answer a 100 every few seconds so
    // intermediaries keep an idle pre-connected POST open. Once the segment is closed after data
    // came, the rest of the body is read and dropped: go-livepeer's server answers such a POST
    // with a plain 200 at its end, and its publisher would count anything else as a lost segment.
    std::variant<net::HttpResult<net::BodyPiece>, bool> outcome;
    if (wrote_any && segment->closed() && !stopped_) {
      auto rest = co_await request.read_body(options_.stalled_body_timeout);
      outcome.emplace<0>(std::move(rest));
    } else {
      outcome = co_await (request.read_body() || segment->signal().wait_for(options_.post_keepalive));
    }
    if (!*alive) co_return;
    if (outcome.index() == 1) {
      if (stopped_ || (segment->closed() && !wrote_any)) {
        released = true;
        break;
      }
      if (segment->closed()) continue;  // read on to the end of the body
      if (wrote_any && net::Clock::now() - last_byte_at >= options_.stalled_body_timeout) {
        spdlog::info("POST {}/{}: no byte for {} s, cut off", route.channel, seq,
                     std::chrono::duration_cast<std::chrono::seconds>(options_.stalled_body_timeout).count());
        failure_status = 408;
        failed = true;
        break;
      }
      if (!wrote_any) {
        auto kept_alive = co_await response.send_interim(100);
        if (!kept_alive) {
          failed = true;
          break;
        }
      }
      continue;
    }
    auto& piece = std::get<0>(outcome);
    if (!piece) {
      spdlog::debug("POST {}/{}: {}", route.channel, seq, piece.error().message);
      if (int status = piece.error().status()) failure_status = status;        // 400 malformed, 413 too large
      if (piece.error().code == net::HttpErrc::timeout) failure_status = 408;  // stalled while drained
      failed = true;
      break;
    }
    if (!*piece) break;
    if (!wrote_any) {
      wrote_any = true;
      channel->mark_written(seq);
    }
    last_byte_at = net::Clock::now();
    segment->append(std::make_shared<const Bytes>(std::move(**piece)));
  }
  // A pre-connected POST ended empty (or released before its first byte) still moves readers
  // past its seq, as go-livepeer's server does.
  if (!wrote_any && !failed && !channel->closed() && (!released || seq >= channel->next_write()))
    channel->mark_written(seq);
  if (failed || released)
    segment->close();
  else
    segment->end_published();

  if (failed) {
    // The publisher died or sent a broken body: readers already got end-of-segment.
    if (request.connection().is_open()) {
      response.close_after();
      co_await response.send(failure_status, text_headers(true), "Error reading body\n");
    }
    co_return;
  }
  HttpHeaders headers;
  headers.add(std::string(header_seq), std::to_string(seq));
  // Only an answer that ends a POST with no data says the channel is gone (go-livepeer's publisher
  // reads it as the end of the stream); one that carried data is a plain success.
  if (channel->closed() && !wrote_any) headers.add(std::string(header_closed), "terminated");
  if (released || !wrote_any) response.close_after();
  co_await response.send(200, std::move(headers), "");
}

awaitable<void> RelayServer::subscribe_segment(net::ServerRequest&, net::ServerResponse& response,
                                               const RelayRoute& route) {
  auto alive = alive_;
  auto channel = find_channel(route.channel);
  if (!channel) {
    co_await response.send(404, text_headers(true), "Stream not found\n");
    co_return;
  }
  auto target = channel->open_for_read(route.seq);
  if (!target.segment) {
    co_await response.send(status_not_available, not_available_headers(*channel, route.seq), "Entry not found\n");
    co_return;
  }
  auto segment = target.segment;
  // go-livepeer's Lp-Trickle-Latest is the edge as it was when the GET arrived, sent unless this
  // GET is the one waiting at that edge.
  const auto latest_at_arrival = channel->next_write();
  Segment::ReaderGuard reading(segment);
  // Like go-livepeer, the response head goes out with the first byte of the segment, so a
  // pre-connected GET learns its seq only once the publisher has started it.
  while (segment->size() == 0 && !segment->closed()) {
    co_await segment->signal().wait();
    if (!*alive) co_return;
  }
  if (segment->size() == 0 && channel->closed()) {
    co_await response.send(200, closed_while_waiting_headers(*channel, target.seq), "");
    co_return;
  }
  if (segment->size() == 0 && !segment->published()) {
    // Closed before any byte by a DELETE, a reset or a publisher that died: not a segment.
    co_await response.send(status_not_available, not_available_headers(*channel, route.seq), "Entry not found\n");
    co_return;
  }

  HttpHeaders headers;
  if (!channel->mime_type().empty()) headers.add("Content-Type", channel->mime_type());
  headers.add(std::string(header_seq), std::to_string(target.seq));
  if (target.seq != latest_at_arrival) headers.add(std::string(header_latest), std::to_string(latest_at_arrival));
  if (!co_await response.start(200, std::move(headers), std::nullopt, /*flush=*/false)) co_return;

  std::size_t sent = 0;
  std::vector<SharedBytes> batch;
  std::vector<std::span<const std::uint8_t>> pieces;
  for (;;) {
    std::size_t available = segment->chunk_count();
    if (sent < available) {
      batch.clear();
      pieces.clear();
      // Everything that arrived since the last write goes out in one gather write, shared with
      // the segment (no copy); capped so one write stays a reasonable size.
      for (std::size_t i = sent; i < available && pieces.size() < 64; ++i) {
        batch.push_back(segment->chunk(i));
        pieces.emplace_back(*batch.back());
      }
      sent += pieces.size();
      if (!co_await response.write_pieces(pieces)) co_return;  // reader gone or stalled past the write timeout
      if (!*alive) co_return;
      continue;
    }
    if (segment->closed()) break;
    co_await segment->signal().wait();
    if (!*alive) co_return;
  }
  co_await response.finish();
}

awaitable<void> RelayServer::sweep_loop() {
  auto alive = alive_;
  while (!stopped_) {
    co_await stop_signal_.wait_for(options_.sweep_interval);
    if (!*alive || stopped_) co_return;
    auto now = net::Clock::now();
    for (auto it = channels_.begin(); it != channels_.end();) {
      auto& channel = it->second;
      if (channel != changes_ && now - channel->last_activity() >= options_.idle_timeout) {
        spdlog::info("channel {} idle for {}s: closed", it->first,
                     std::chrono::duration_cast<std::chrono::seconds>(now - channel->last_activity()).count());
        channel->close();
        auto name = it->first;
        it = channels_.erase(it);
        announce("removed", name);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace trickle::protocol
