#include "trickle/runtime/fps_meter.hpp"

#include <algorithm>

namespace trickle::runtime {

FpsMeter::FpsMeter(double window_seconds, std::size_t max_samples)
    : window_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(window_seconds))),
      max_samples_(std::max<std::size_t>(max_samples, 2)) {}

void FpsMeter::record(Direction direction) {
  std::lock_guard lock(mutex_);
  auto& stamps = stamps_[static_cast<int>(direction)];
  stamps.push_back(Clock::now());
  if (stamps.size() > max_samples_) stamps.pop_front();
}

double FpsMeter::fps_locked(Direction direction, Clock::time_point now) const {
  const auto& stamps = stamps_[static_cast<int>(direction)];
  auto first = std::find_if(stamps.begin(), stamps.end(), [&](auto t) { return now - t <= window_; });
  const auto count = std::distance(first, stamps.end());
  if (count < 2) return 0.0;
  const double span = std::chrono::duration<double>(stamps.back() - *first).count();
  return span > 0 ? static_cast<double>(count - 1) / span : 0.0;
}

double FpsMeter::fps(Direction direction) const {
  std::lock_guard lock(mutex_);
  return fps_locked(direction, Clock::now());
}

util::Json FpsMeter::stats() const {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  return {{"ingress_video_fps", fps_locked(Direction::ingress_video, now)},
          {"ingress_audio_fps", fps_locked(Direction::ingress_audio, now)},
          {"egress_video_fps", fps_locked(Direction::egress_video, now)},
          {"egress_audio_fps", fps_locked(Direction::egress_audio, now)}};
}

void FpsMeter::reset() {
  std::lock_guard lock(mutex_);
  for (auto& stamps : stamps_) stamps.clear();
}

}  // namespace trickle::runtime
