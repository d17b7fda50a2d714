#pragma once

// Upstream PyTrickle's decoder-side frame-rate limit. It paces by MEDIA time (frame pts), not by
// wall clock, so the same input always yields the same frames whatever the decoding speed; the
// arithmetic (double seconds, += interval) is upstream's so accept/drop decisions match it.

namespace trickle::media {

class MediaTimeLimiter {
 public:
  explicit MediaTimeLimiter(int max_fps = 24) { set_max_fps(max_fps); }

  // Takes effect for the next frame; the schedule (next accepted time) is kept as it is.
  void set_max_fps(int max_fps) { interval_ = max_fps > 0 ? 1.0 / max_fps : 0.033; }

  // Whether the frame at `seconds` of media time passes, advancing the schedule when it does.
  bool accept(double seconds) {
    if (seconds < next_time_) {
      return false;
    }
    if (seconds > next_time_ + interval_) {
      next_time_ = seconds + interval_;  // after a gap, restart the schedule from this frame
    } else {
      next_time_ += interval_;
    }
    return true;
  }

  double interval() const { return interval_; }

 private:
  double interval_ = 0.0;
  double next_time_ = 0.0;
};

}  // namespace trickle::media
