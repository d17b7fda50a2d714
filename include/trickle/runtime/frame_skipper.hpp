#pragma once

// Upstream PyTrickle's AdaptiveFrameSkipper: keeps the processor near real time. Before each
// frame is taken, a backlog beyond max_queue_size is trimmed oldest-first (at most
// max_cleanup_frames at a time); with a target fps below the ingress rate every n-th frame is
// processed, n = round(ingress / target) (half to even, as Python's round), re-decided at most
// once per adaptation_cooldown.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

namespace trickle::runtime {

struct FrameSkipConfig {
  std::optional<double> target_fps;  // none: follow the ingress rate (no ratio skipping)
  double adaptation_cooldown = 0.5;  // seconds
  std::size_t max_queue_size = 15;
  std::size_t max_cleanup_frames = 50;
};

class AdaptiveFrameSkipper {
 public:
  // `ingress_fps` reads the current ingress video rate (the stream's FPS meter).
  AdaptiveFrameSkipper(FrameSkipConfig config, std::function<double()> ingress_fps);

  // How many of the oldest queued frames to drop before taking the next one.
  std::size_t frames_to_trim(std::size_t queued) const;
  // Counts the frame about to be processed; false means skip it.
  bool should_process();

  // None or > 0; anything else is ignored (false). Re-adapts at once.
  bool set_target_fps(std::optional<double> target_fps);
  void reset();

  int skip_interval() const { return skip_interval_; }
  const FrameSkipConfig& config() const { return config_; }

 private:
  using Clock = std::chrono::steady_clock;
  void adapt(bool ignore_cooldown);

  FrameSkipConfig config_;
  std::function<double()> ingress_fps_;
  std::int64_t frame_counter_ = 0;
  int skip_interval_ = 1;
  Clock::time_point last_adaptation_ = Clock::now();
};

}  // namespace trickle::runtime
