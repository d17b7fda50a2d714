#include "trickle/runtime/processor_inbox.hpp"

namespace trickle::runtime {

ProcessorInbox::ProcessorInbox(std::size_t video_capacity, std::size_t audio_capacity, VideoTrimRule trim_rule)
    : video_capacity_(video_capacity == 0 ? 1 : video_capacity),
      audio_capacity_(audio_capacity == 0 ? 1 : audio_capacity),
      trim_rule_(std::move(trim_rule)) {}

void ProcessorInbox::push_video(VideoFrame frame) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      ++counters_.dropped_at_stop;
      return;
    }
    if (video_.size() >= video_capacity_) {
      video_.pop_front();
      ++counters_.video_dropped_full;
    }
    video_.push_back({next_order_++, std::move(frame)});
  }
  ready_.notify_one();
}

void ProcessorInbox::push_audio(AudioFrame frame) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      ++counters_.dropped_at_stop;
      return;
    }
    if (audio_.size() >= audio_capacity_) {
      audio_.pop_front();
      ++counters_.audio_dropped_full;
    }
    audio_.push_back({next_order_++, std::move(frame)});
  }
  ready_.notify_one();
}

void ProcessorInbox::push_params(ParamsUpdate update) {
  {
    std::lock_guard lock(mutex_);
    params_.push_back(std::move(update));
  }
  ready_.notify_one();
}

std::optional<ProcessorInbox::Item> ProcessorInbox::pop() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !params_.empty() || !video_.empty() || !audio_.empty() || closed_; });
  return take_locked();
}

std::optional<ProcessorInbox::Item> ProcessorInbox::try_pop(bool* ended) {
  std::lock_guard lock(mutex_);
  auto item = take_locked();
  if (ended) *ended = !item && closed_;
  return item;
}

std::optional<ProcessorInbox::Item> ProcessorInbox::take_locked() {
  if (!params_.empty()) {
    ParamsUpdate update = std::move(params_.front());
    params_.pop_front();
    return Item{std::move(update)};
  }
  if (!video_.empty() && trim_rule_) {
    const std::size_t trim = std::min(trim_rule_(video_.size()), video_.size() - 1);
    for (std::size_t i = 0; i < trim; ++i) video_.pop_front();
    counters_.video_trimmed += static_cast<std::int64_t>(trim);
  }
  const bool video_first = !video_.empty() && (audio_.empty() || video_.front().order < audio_.front().order);
  if (video_first) {
    VideoFrame frame = std::move(video_.front().value);
    video_.pop_front();
    return Item{std::move(frame)};
  }
  if (!audio_.empty()) {
    AudioFrame frame = std::move(audio_.front().value);
    audio_.pop_front();
    return Item{std::move(frame)};
  }
  return std::nullopt;
}

void ProcessorInbox::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

void ProcessorInbox::abort() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    counters_.dropped_at_stop += static_cast<std::int64_t>(video_.size() + audio_.size());
    video_.clear();
    audio_.clear();
  }
  ready_.notify_all();
}

ProcessorInbox::Counters ProcessorInbox::counters() const {
  std::lock_guard lock(mutex_);
  Counters counters = counters_;
  counters.video_queued = video_.size();
  counters.audio_queued = audio_.size();
  return counters;
}

}  // namespace trickle::runtime
