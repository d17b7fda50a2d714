#include "trickle/runtime/segment_bridge.hpp"

namespace trickle::runtime {

SegmentBridge::SegmentBridge(std::size_t max_pending_bytes, std::function<void()> wake)
    : max_pending_bytes_(max_pending_bytes), wake_(std::move(wake)) {}

void SegmentBridge::push(Event event, std::size_t bytes) {
  {
    std::unique_lock lock(mutex_);
    // Wait for room only when something is queued: a single large write always gets through.
    drained_.wait(lock,
                  [&] { return aborted_ || pending_bytes_ == 0 || pending_bytes_ + bytes <= max_pending_bytes_; });
    if (aborted_) return;
    events_.push_back(std::move(event));
    pending_bytes_ += bytes;
  }
  if (wake_) wake_();
}

void SegmentBridge::on_segment_begin(int64_t index) { push(Begin{index}, 0); }

void SegmentBridge::on_segment_data(std::span<const uint8_t> bytes) {
  push(Data{std::vector<std::uint8_t>(bytes.begin(), bytes.end())}, bytes.size());
}

void SegmentBridge::on_segment_end(int64_t index) { push(End{index}, 0); }

void SegmentBridge::finish() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  if (wake_) wake_();
}

void SegmentBridge::abort() {
  {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    finished_ = true;
    events_.clear();
    pending_bytes_ = 0;
  }
  drained_.notify_all();
  if (wake_) wake_();
}

SegmentBridge::Batch SegmentBridge::take() {
  Batch batch;
  {
    std::lock_guard lock(mutex_);
    batch.events.swap(events_);
    batch.finished = finished_;
    pending_bytes_ = 0;
  }
  drained_.notify_all();
  return batch;
}

}  // namespace trickle::runtime
