#include "side_channels.hpp"

#include <span>

#include <spdlog/spdlog.h>

namespace trickle::runtime {

using namespace std::chrono_literals;

SideChannels::SideChannels(net::Executor executor, const StreamPipelineOptions& options, net::AsyncSignal& io_signal,
                           Hooks hooks)
    : executor_(std::move(executor)), options_(options), io_signal_(io_signal), hooks_(std::move(hooks)) {}

// One JSON message as one segment: what the events and data channels post.
static net::awaitable<void> post_segment(protocol::TricklePublisher& publisher, const std::string& body) {
  auto writer = co_await publisher.next();
  co_await writer->write(std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
  co_await writer->close();
}

std::unique_ptr<protocol::TricklePublisher> SideChannels::make_publisher(const std::string& url, std::string mime_type,
                                                                         const char* channel) {
  protocol::PublisherOptions o;
  o.tls = options_.tls;
  o.mime_type = std::move(mime_type);
  if (options_.publisher_timeout) o.connect_timeout = seconds_to_ms(*options_.publisher_timeout);
  return std::make_unique<protocol::TricklePublisher>(
      executor_, url, o, [this, channel](std::string_view kind, std::string_view message) {
        spdlog::warn("{} channel: {} ({})", channel, kind, message);
        hooks_.fail(kind, message);  // upstream's error callback ends the stream (docs/compatibility.md Q22)
      });
}

net::awaitable<void> SideChannels::read_control() {
  protocol::SubscriberOptions o;
  o.tls = options_.tls;
  // Upstream's control subscriber has no timeout unless subscriber_timeout is given (docs/compatibility.md Q22).
  o.connect_timeout = o.read_timeout =
      options_.subscriber_timeout ? seconds_to_ms(*options_.subscriber_timeout) : no_timeout;
  control_ = std::make_unique<protocol::TrickleSubscriber>(
      executor_, options_.control_url, o, [this](std::string_view kind, std::string_view message) {
        spdlog::warn("control channel: {} ({})", kind, message);
        hooks_.fail(kind,
                    message);  // 404 ends the stream cleanly, other failures with an error (docs/compatibility.md Q22)
      });
  while (!hooks_.stopping()) {
    auto segment = co_await control_->next();
    if (!segment) break;
    std::string text;
    bool complete = false;
    for (;;) {
      auto piece = co_await segment->read();
      if (!piece) break;
      if (!*piece) {
        complete = true;
        break;
      }
      text.append((*piece)->begin(), (*piece)->end());
      if (text.size() > 1024 * 1024) break;  // not a parameter message
    }
    if (!complete || text.empty()) continue;
    auto params = util::python_json_loads(text);
    if (!params) {
      spdlog::warn("control message is not JSON: {}", params.error());
      continue;
    }
    if (*params == util::Json{{"keep", "alive"}}) continue;
    if (!params->is_object()) {
      spdlog::warn("control message is not an object: {}", text.substr(0, 200));
      continue;
    }
    hooks_.on_params(std::move(*params));
  }
  control_->close();
}

net::awaitable<void> SideChannels::post_events() {
  events_ = make_publisher(options_.events_url, "application/json", "events");
  for (;;) {
    std::deque<std::string> pending;
    {
      std::lock_guard lock(mutex_);
      pending.swap(pending_events_);
    }
    for (auto& body : pending) co_await post_segment(*events_, body);
    if (!pending.empty()) continue;
    if (closing_) break;
    co_await io_signal_.wait();
  }
  {
    std::lock_guard lock(mutex_);
    events_closed_ = true;
  }
  co_await events_->close();
}

net::awaitable<void> SideChannels::post_heartbeats() {
  while (!closing_) {
    util::Json heartbeat = {{"type", "heartbeat"},
                            {"timestamp", unix_time_ms()},
                            {"urls",
                             {{"subscribe", options_.subscribe_url},
                              {"publish", options_.publish_url},
                              {"control", options_.control_url},
                              {"events", options_.events_url},
                              {"data", options_.data_url}}},
                            {"dimensions", {{"width", options_.width}, {"height", options_.height}}},
                            {"fps", hooks_.fps_stats()}};
    emit_event(std::move(heartbeat), "stream_heartbeat");
    const auto interval =
        std::chrono::duration_cast<net::Clock::duration>(std::chrono::duration<double>(options_.heartbeat_interval));
    auto deadline = net::Clock::now() + interval;
    while (!closing_ && net::Clock::now() < deadline) co_await io_signal_.wait_for(deadline - net::Clock::now());
  }
}

net::awaitable<void> SideChannels::post_data() {
  data_ = make_publisher(options_.data_url, "application/jsonl", "data");
  const auto interval = std::chrono::duration_cast<net::Clock::duration>(
      std::chrono::duration<double>(std::max(options_.send_data_interval, 0.01)));
  auto last_send = net::Clock::now();
  for (;;) {
    const bool closing = closing_;
    if (!closing) {
      auto deadline = net::Clock::now() + interval;
      while (!closing_ && net::Clock::now() < deadline) co_await io_signal_.wait_for(deadline - net::Clock::now());
    }
    util::Json items = util::Json::array();
    {
      std::lock_guard lock(mutex_);
      for (auto& item : pending_data_) items.push_back(std::move(item));
      pending_data_.clear();
    }
    // Upstream posts a keep-alive `[]` when nothing was sent for about 25 s.
    const bool keepalive = net::Clock::now() - last_send + interval > 25s;
    if (!items.empty() || keepalive) {
      co_await post_segment(*data_, util::python_json_dumps(items) + "\n");
      last_send = net::Clock::now();
    }
    if (closing) break;
  }
  co_await data_->close();
}

void SideChannels::emit_event(util::Json event, std::string queue_event_type) {
  if (options_.events_url.empty()) return;
  util::Json envelope = {{"event", std::move(event)}, {"queue_event_type", std::move(queue_event_type)}};
  {
    std::lock_guard lock(mutex_);
    if (events_closed_) return;
    pending_events_.push_back(util::python_json_dumps(envelope));
  }
  hooks_.wake_io();
}

void SideChannels::publish_data(std::string item) {
  std::lock_guard lock(mutex_);
  pending_data_.push_back(std::move(item));
  if (pending_data_.size() > 1000) pending_data_.pop_front();  // upstream's deque(maxlen=1000)
}

void SideChannels::close() {
  closing_ = true;
  stop_control();
  io_signal_.notify_all();
}

void SideChannels::stop_control() {
  if (control_) control_->close();
}

}  // namespace trickle::runtime
