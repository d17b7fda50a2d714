#include "trickle/protocol/publisher.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "trickle/net/async_signal.hpp"
#include "trickle/net/spawn.hpp"
#include "trickle/protocol/relay_server.hpp"  // the protocol's header names

namespace trickle::protocol {

using net::awaitable;
using net::Clock;
using net::HttpClientConnection;

// Shared by the publisher and the writer of each segment, so a writer outlives neither.
struct PublisherShared {
  net::Executor executor;
  net::Url url;
  PublisherOptions options;
  ErrorCallback on_error;
  bool stopping = false;
  // The relay said the channel is gone (404, or an answer with Lp-Trickle-Closed): like
  // go-livepeer's publisher, nothing more is posted into it.
  bool channel_gone = false;

  void report(std::string_view kind, std::string_view message) {
    if (stopping) return;  // failures while shutting down are expected, not news
    spdlog::warn("publisher {}: {}: {}", url.to_string(), kind, message);
    if (on_error) on_error(kind, message);
  }
};

struct SegmentWriter::State {
  State(std::shared_ptr<PublisherShared> p, std::int64_t n) : shared(std::move(p)), seq(n), changed(shared->executor) {}

  enum class Phase { connecting, open, failed, ended };
  std::shared_ptr<PublisherShared> shared;
  std::int64_t seq;
  Phase phase = Phase::connecting;
  std::unique_ptr<HttpClientConnection> connection;
  std::optional<int> status;  // the relay's final answer, once it came
  bool answered = false;      // status is known, or will never be
  bool closing = false;
  net::AsyncSignal changed;  // phase or answer changed

  void set_phase(Phase p) {
    phase = p;
    changed.notify_all();
  }
};

// Connects and sends the head of the POST before any data exists (the pre-connect).
static awaitable<void> open_segment(std::shared_ptr<SegmentWriter::State> w);
// Waits for the relay's answer while the body streams, so an early refusal is noticed.
static awaitable<void> await_answer(std::shared_ptr<SegmentWriter::State> w);

// Runs one of a segment's coroutines. If it throws (a bug, or an error callback that throws), the
// segment fails and is answered, so nobody waits on it forever.
static void spawn_for(const std::shared_ptr<SegmentWriter::State>& w, awaitable<void> work, const char* what) {
  net::spawn(w->shared->executor, std::move(work), what, [w](std::exception_ptr) {
    w->answered = true;
    if (w->connection) w->connection->close();
    w->set_phase(SegmentWriter::State::Phase::failed);
  });
}

static std::shared_ptr<SegmentWriter::State> start_segment(const std::shared_ptr<PublisherShared>& shared,
                                                           std::int64_t seq) {
  auto w = std::make_shared<SegmentWriter::State>(shared, seq);
  spawn_for(w, open_segment(w), "opening a segment's POST");
  return w;
}

static awaitable<void> open_segment(std::shared_ptr<SegmentWriter::State> w) {
  auto& shared = *w->shared;
  auto target = shared.url.with_path_suffix(fmt::format("/{}", w->seq));
  auto connection = co_await HttpClientConnection::connect(shared.executor, target, shared.options.connect_timeout, {},
                                                           shared.options.tls);
  if (!connection) {
    w->answered = true;
    w->set_phase(SegmentWriter::State::Phase::failed);
    shared.report(error_kind::connection_failed, connection.error().message);
    co_return;
  }
  net::HttpHeaders headers{{"Connection", "close"}, {"Content-Type", shared.options.mime_type}};
  auto sent = co_await (*connection)->send_head("POST", target.target, std::move(headers), net::BodyMode::chunked);
  if (!sent) {
    w->answered = true;
    w->set_phase(SegmentWriter::State::Phase::failed);
    shared.report(error_kind::connection_failed, sent.error().message);
    co_return;
  }
  w->connection = std::move(*connection);
  w->set_phase(SegmentWriter::State::Phase::open);
  spawn_for(w, await_answer(w), "waiting for a segment's answer");
}

static awaitable<void> await_answer(std::shared_ptr<SegmentWriter::State> w) {
  auto* connection = w->connection.get();
  // No deadline while the body is still being written: a pre-connected POST may wait long for
  // its first byte (the relay sends interim 100s meanwhile).
  auto head = co_await connection->read_response_head(Clock::duration::max());
  if (head) {
    w->status = head->status;
    if (head->headers.contains(header_closed) && !w->shared->channel_gone) {
      w->shared->channel_gone = true;
      spdlog::info("publisher {}: the relay closed the channel; nothing more is posted", w->shared->url.to_string());
    }
    if (head->status == 404) w->shared->channel_gone = true;
    if (head->status != 200) {
      auto body = co_await connection->read_all(4096, std::chrono::seconds(1));
      w->shared->report(error_kind::post_failed,
                        fmt::format("POST failed with status {}: {}", head->status, body ? *body : ""));
    }
  } else if (!w->closing || head.error().code != net::HttpErrc::cancelled) {
    if (w->phase == SegmentWriter::State::Phase::open)
      w->shared->report(error_kind::post_exception, head.error().message);
  }
  w->answered = true;
  if (w->status != 200 && w->phase == SegmentWriter::State::Phase::open) w->phase = SegmentWriter::State::Phase::failed;
  w->changed.notify_all();
}

static awaitable<void> wait_while_connecting(const std::shared_ptr<SegmentWriter::State>& w) {
  while (w->phase == SegmentWriter::State::Phase::connecting) co_await w->changed.wait();
}

static awaitable<bool> finish_segment(std::shared_ptr<SegmentWriter::State> w) {
  using Phase = SegmentWriter::State::Phase;
  co_await wait_while_connecting(w);
  if (w->phase != Phase::open) co_return false;
  w->closing = true;
  auto ended = co_await w->connection->finish_body();
  w->set_phase(Phase::ended);
  if (!ended) {
    w->shared->report(error_kind::post_exception, ended.error().message);
    w->connection->close();
    co_return false;
  }
  auto deadline = net::deadline_after(w->shared->options.connect_timeout);
  while (!w->answered && Clock::now() < deadline) co_await w->changed.wait_for(deadline - Clock::now());
  w->connection->close();
  co_return w->status == 200;
}

// ---------------------------------------------------------------------------------------------

SegmentWriter::SegmentWriter(std::shared_ptr<State> state) : state_(std::move(state)) {}

SegmentWriter::~SegmentWriter() {
  // A writer dropped without close() still ends its POST, so the relay closes the segment.
  if (state_ && state_->phase != State::Phase::ended && state_->phase != State::Phase::failed)
    spawn_for(
        state_, [](std::shared_ptr<State> w) -> awaitable<void> { co_await finish_segment(w); }(state_),
        "ending a dropped segment");
}

std::int64_t SegmentWriter::seq() const { return state_->seq; }

awaitable<bool> SegmentWriter::write(std::span<const std::uint8_t> bytes) {
  auto w = state_;
  co_await wait_while_connecting(w);
  if (w->phase != State::Phase::open || w->answered) co_return false;
  auto sent = co_await w->connection->send_body(bytes);
  if (!sent) {
    w->set_phase(State::Phase::failed);
    w->shared->report(error_kind::post_exception, sent.error().message);
    co_return false;
  }
  co_return true;
}

awaitable<bool> SegmentWriter::close() {
  auto w = state_;
  if (w->phase == State::Phase::ended || w->phase == State::Phase::failed) co_return w->status == 200;
  co_return co_await finish_segment(w);
}

// ---------------------------------------------------------------------------------------------

struct TricklePublisher::State {
  std::shared_ptr<PublisherShared> shared;
  std::int64_t idx = 0;
  std::shared_ptr<SegmentWriter::State> pending;                // the pre-connected next POST
  std::vector<std::weak_ptr<SegmentWriter::State>> handed_out;  // to wait for at close()
};

TricklePublisher::TricklePublisher(net::Executor executor, std::string url, PublisherOptions options,
                                   ErrorCallback on_error)
    : state_(std::make_shared<State>()) {
  auto parsed = net::Url::parse(url);
  if (!parsed) throw std::invalid_argument(parsed.error());
  state_->shared = std::make_shared<PublisherShared>(
      PublisherShared{executor, std::move(*parsed), std::move(options), std::move(on_error)});
  state_->idx = state_->shared->options.start_seq;
}

TricklePublisher::~TricklePublisher() {
  state_->shared->stopping = true;
  if (auto pending = std::exchange(state_->pending, nullptr)) {
    if (pending->connection) pending->connection->close();
  }
}

std::int64_t TricklePublisher::next_seq() const { return state_->idx; }
bool TricklePublisher::channel_gone() const { return state_->shared->channel_gone; }

awaitable<std::shared_ptr<SegmentWriter>> TricklePublisher::next() {
  auto s = state_;
  if (s->shared->stopping || s->shared->channel_gone) {
    auto inert = std::make_shared<SegmentWriter::State>(s->shared, -1);
    inert->phase = SegmentWriter::State::Phase::failed;
    co_return std::make_shared<SegmentWriter>(inert);
  }
  auto current = std::exchange(s->pending, nullptr);
  if (!current) current = start_segment(s->shared, s->idx);
  s->idx = current->seq + 1;
  s->pending = start_segment(s->shared, s->idx);
  std::erase_if(s->handed_out, [](const auto& weak) { return weak.expired(); });
  s->handed_out.push_back(current);
  co_return std::make_shared<SegmentWriter>(current);
}

// Segments still open are ended, and every handed-out segment gets a bounded time to be answered,
// so the tail of the last one is not lost (PyTrickle cancels them instead).
static awaitable<void> finish_handed_out(std::shared_ptr<TricklePublisher::State> s) {
  auto deadline = net::deadline_after(std::chrono::seconds(5));
  for (auto& weak : s->handed_out) {
    auto w = weak.lock();
    if (!w) continue;
    if (w->phase == SegmentWriter::State::Phase::open && !w->closing) {
      co_await finish_segment(w);
      continue;
    }
    while (!w->answered && w->phase != SegmentWriter::State::Phase::failed && Clock::now() < deadline)
      co_await w->changed.wait_for(deadline - Clock::now());
  }
}

awaitable<void> TricklePublisher::close() {
  auto s = state_;
  if (s->shared->stopping) co_return;
  co_await finish_handed_out(s);
  s->shared->stopping = true;
  if (auto pending = std::exchange(s->pending, nullptr)) co_await finish_segment(pending);
}

awaitable<void> TricklePublisher::close_leaving_channel_open() {
  auto s = state_;
  if (s->shared->stopping) co_return;
  co_await finish_handed_out(s);
  s->shared->stopping = true;
  if (auto pending = std::exchange(s->pending, nullptr)) {
    co_await wait_while_connecting(pending);
    pending->answered = true;
    if (pending->connection) pending->connection->close();
    pending->set_phase(SegmentWriter::State::Phase::failed);
  }
}

awaitable<bool> TricklePublisher::close_and_delete_channel() {
  auto s = state_;
  if (s->shared->stopping) co_return false;
  co_await finish_handed_out(s);
  // The DELETE goes before the pre-connected POST is ended, as go-livepeer's publisher does: the
  // relay releases that POST itself, and readers waiting on its seq get the end of the stream.
  // Ending it first would leave an empty last segment that they read before the end.
  bool deleted = co_await delete_channel();
  s->shared->stopping = true;
  if (auto pending = std::exchange(s->pending, nullptr)) co_await finish_segment(pending);
  co_return deleted;
}

awaitable<bool> TricklePublisher::delete_channel() {
  auto s = state_;
  auto response = co_await net::http_request(s->shared->executor, s->shared->url, "DELETE", {}, {},
                                             std::chrono::seconds(10), 16 * 1024 * 1024, s->shared->options.tls);
  co_return response && response->head.status == 200;
}

}  // namespace trickle::protocol
