#include "trickle/protocol/subscriber.hpp"

#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "trickle/net/async_signal.hpp"
#include "trickle/net/spawn.hpp"
#include "trickle/protocol/relay_server.hpp"

namespace trickle::protocol {

using net::awaitable;
using net::Clock;
using net::HttpClientConnection;

static std::optional<std::int64_t> header_int(const net::HttpHeaders& headers, std::string_view name) {
  auto text = headers.get(name);
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------

SubscribedSegment::SubscribedSegment(std::unique_ptr<HttpClientConnection> connection, net::ResponseHead head,
                                     std::chrono::milliseconds read_timeout)
    : connection_(std::move(connection)), head_(std::move(head)), read_timeout_(read_timeout) {
  seq_ = header_int(head_.headers, header_seq).value_or(-1);
  eos_ = head_.headers.contains(header_closed);
}

SubscribedSegment::~SubscribedSegment() { close(); }

awaitable<net::HttpResult<net::BodyPiece>> SubscribedSegment::read() {
  if (!connection_) co_return net::BodyPiece{};
  auto piece = co_await connection_->read_body(read_timeout_);
  if (!piece || !*piece) close();
  co_return piece;
}

void SubscribedSegment::close() {
  if (connection_) connection_->close();
  connection_.reset();
}

// ---------------------------------------------------------------------------------------------

// A GET that has been answered 200 (or ended the stream), not yet handed to the reader.
struct Connected {
  std::unique_ptr<HttpClientConnection> connection;
  net::ResponseHead head;
};

struct TrickleSubscriber::State {
  State(net::Executor ex, net::Url base_url, SubscriberOptions opts, ErrorCallback cb)
      : executor(ex), url(std::move(base_url)), options(opts), on_error(std::move(cb)), idx(opts.start_seq) {}

  net::Executor executor;
  net::Url url;
  SubscriberOptions options;
  ErrorCallback on_error;
  std::int64_t idx;
  bool stopped = false;
  bool failed = false;
  bool busy = false;  // a next() is running (callers must not overlap them)

  // The background pre-connect of the next segment.
  struct Pending {
    explicit Pending(net::Executor ex) : done_signal(ex) {}
    bool done = false;
    std::optional<Connected> result;
    HttpClientConnection* in_flight = nullptr;
    net::AsyncSignal done_signal;
  };
  std::shared_ptr<Pending> pending;

  void report(std::string_view kind, std::string_view message) {
    failed = true;
    spdlog::warn("subscriber {}: {}: {}", url.to_string(), kind, message);
    if (on_error) on_error(kind, message);
  }
};

static awaitable<std::optional<Connected>> preconnect(std::shared_ptr<TrickleSubscriber::State> s,
                                                      std::shared_ptr<TrickleSubscriber::State::Pending> pending,
                                                      std::int64_t seq) {
  const auto& opts = s->options;
  std::string failure;  // the last attempt's, for the report when every attempt failed
  for (int attempt = 0; attempt < opts.max_retries; ++attempt) {
    if (s->stopped) co_return std::nullopt;
    bool last = attempt + 1 == opts.max_retries;
    auto target = s->url.with_path_suffix(fmt::format("/{}", seq));
    auto deadline = net::deadline_after(opts.connect_timeout);  // saturates for "no timeout"
    auto connection = co_await HttpClientConnection::connect(s->executor, target, opts.connect_timeout, {}, opts.tls);
    failure.clear();
    if (connection) {
      auto& c = **connection;
      pending->in_flight = &c;
      net::HttpHeaders headers{{"Connection", "close"}};
      auto sent = co_await c.send_head("GET", target.target, std::move(headers));
      // (Not a ?: expression: GCC 12 double-destroys a co_await result inside one.)
      net::HttpResult<net::ResponseHead> head = tl::unexpected(sent ? net::HttpError{} : sent.error());
      if (sent) head = co_await c.read_response_head(deadline - Clock::now());
      pending->in_flight = nullptr;
      if (s->stopped) co_return std::nullopt;
      if (head) {
        int status = head->status;
        if (status == 200) co_return Connected{std::move(*connection), std::move(*head)};
        if (status == 404) {
          s->report(error_kind::stream_not_found, fmt::format("404 error for {}", target.to_string()));
          co_return std::nullopt;
        }
        if (status == status_not_available) {
          // Not available (too old, too far ahead): jump to where the server is, right away. It
          // still uses an attempt, as in PyTrickle and go-livepeer's live-video code, so a relay
          // that only ever answers 470 ends in max_retries_exceeded instead of a busy loop.
          auto latest = header_int(head->headers, header_latest);
          failure = fmt::format("GET {} answered 470 (not available; the edge is at {})", target.to_string(),
                                latest ? std::to_string(*latest) : "unknown");
          seq = latest.value_or(-1);
          spdlog::debug("subscriber {}: 470, re-syncing at {}", s->url.to_string(), seq);
          continue;
        }
        auto body = co_await c.read_all(4096, std::chrono::seconds(1));
        failure = fmt::format("GET {} answered {}: {}", target.to_string(), status, body ? *body : "");
      } else {
        failure = fmt::format("GET {}: {}", target.to_string(), head.error().message);
      }
    } else {
      failure = connection.error().message;
    }
    spdlog::debug("subscriber attempt {} failed: {}", attempt + 1, failure);
    if (!last) {
      bool slept = co_await net::sleep_for(opts.retry_delay);
      if (!slept) co_return std::nullopt;
    }
  }
  if (!s->stopped)
    s->report(error_kind::max_retries_exceeded, fmt::format("gave up on {} after {} attempts; the last: {}",
                                                            s->url.to_string(), opts.max_retries, failure));
  co_return std::nullopt;
}

static awaitable<void> run_pending(std::shared_ptr<TrickleSubscriber::State> s,
                                   std::shared_ptr<TrickleSubscriber::State::Pending> pending, std::int64_t seq) {
  pending->result = co_await preconnect(s, pending, seq);
  pending->done = true;
  pending->done_signal.notify_all();
}

// Starts the GET for `seq` in the background. If it throws (a bug, or an error callback that
// throws), the subscriber fails instead of leaving next() waiting for a result that never comes.
static std::shared_ptr<TrickleSubscriber::State::Pending> start_pending(std::shared_ptr<TrickleSubscriber::State> s,
                                                                        std::int64_t seq) {
  auto pending = std::make_shared<TrickleSubscriber::State::Pending>(s->executor);
  net::spawn(s->executor, run_pending(s, pending, seq), "a subscriber's GET", [s, pending](std::exception_ptr) {
    s->failed = true;
    pending->in_flight = nullptr;
    pending->done = true;
    pending->done_signal.notify_all();
  });
  return pending;
}

TrickleSubscriber::TrickleSubscriber(net::Executor executor, std::string url, SubscriberOptions options,
                                     ErrorCallback on_error) {
  auto parsed = net::Url::parse(url);
  if (!parsed) throw std::invalid_argument(parsed.error());
  state_ = std::make_shared<State>(executor, std::move(*parsed), options, std::move(on_error));
}

TrickleSubscriber::~TrickleSubscriber() { close(); }

void TrickleSubscriber::close() {
  state_->stopped = true;
  if (auto pending = std::exchange(state_->pending, nullptr)) {
    if (pending->in_flight) pending->in_flight->close();
    if (pending->result && pending->result->connection) pending->result->connection->close();
    pending->done_signal.notify_all();
  }
}

std::int64_t TrickleSubscriber::next_seq() const { return state_->idx; }
bool TrickleSubscriber::failed() const { return state_->failed; }

awaitable<std::unique_ptr<SubscribedSegment>> TrickleSubscriber::next() {
  auto s = state_;
  if (s->stopped || s->failed || s->busy) co_return nullptr;
  s->busy = true;
  // The GET runs as the pending pre-connect even on the first call, so close() can always
  // reach the connection in flight.
  auto pending = s->pending;
  if (!pending) s->pending = pending = start_pending(s, s->idx);
  while (!pending->done && !s->stopped) co_await pending->done_signal.wait();
  if (s->pending == pending) s->pending = nullptr;
  std::optional<Connected> connected = std::move(pending->result);
  s->busy = false;
  if (!connected || s->stopped) co_return nullptr;

  auto segment = std::make_unique<SubscribedSegment>(std::move(connected->connection), std::move(connected->head),
                                                     s->options.read_timeout);
  if (segment->eos()) {
    // End of stream: nothing more will come, so stop instead of pre-connecting.
    s->stopped = true;
    co_return nullptr;
  }
  if (segment->seq() >= 0) s->idx = segment->seq() + 1;
  // While this segment is read, the GET for the next one is already waiting at the server.
  s->pending = start_pending(s, s->idx);
  co_return segment;
}

}  // namespace trickle::protocol
