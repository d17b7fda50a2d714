#pragma once

// Upstream PyTrickle's FPSMeter: wall-clock stamps of frames in and out, and the rate over the
// last `window_seconds` as (n - 1) / (last - first). Stages on different threads record into the
// same meter, so it locks.

#include <chrono>
#include <deque>
#include <mutex>

#include "trickle/util/python_json.hpp"

namespace trickle::runtime {

class FpsMeter {
 public:
  enum class Direction { ingress_video, ingress_audio, egress_video, egress_audio };

  explicit FpsMeter(double window_seconds = 10.0, std::size_t max_samples = 600);

  void record(Direction direction);
  double fps(Direction direction) const;
  // {"ingress_video_fps", "ingress_audio_fps", "egress_video_fps", "egress_audio_fps"}
  util::Json stats() const;
  void reset();

 private:
  using Clock = std::chrono::steady_clock;
  double fps_locked(Direction direction, Clock::time_point now) const;

  const Clock::duration window_;
  const std::size_t max_samples_;
  mutable std::mutex mutex_;
  std::deque<Clock::time_point> stamps_[4];
};

}  // namespace trickle::runtime
