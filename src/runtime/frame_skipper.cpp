#include "trickle/runtime/frame_skipper.hpp"

#include <algorithm>
#include <cmath>

namespace trickle::runtime {

AdaptiveFrameSkipper::AdaptiveFrameSkipper(FrameSkipConfig config, std::function<double()> ingress_fps)
    : config_(config), ingress_fps_(std::move(ingress_fps)) {}

std::size_t AdaptiveFrameSkipper::frames_to_trim(std::size_t queued) const {
  if (queued <= config_.max_queue_size) return 0;
  return std::min(queued - config_.max_queue_size, config_.max_cleanup_frames);
}

bool AdaptiveFrameSkipper::should_process() {
  ++frame_counter_;
  adapt(false);
  return skip_interval_ <= 1 || frame_counter_ % skip_interval_ == 1;
}

void AdaptiveFrameSkipper::adapt(bool ignore_cooldown) {
  const auto now = Clock::now();
  if (!ignore_cooldown && std::chrono::duration<double>(now - last_adaptation_).count() < config_.adaptation_cooldown) {
    return;
  }
  const double ingress = ingress_fps_ ? ingress_fps_() : 0.0;
  if (ingress < 1.0) return;
  const double target = config_.target_fps.value_or(ingress);
  // std::nearbyint in the default rounding mode rounds half to even, like Python's round().
  skip_interval_ = ingress <= target ? 1 : std::max(1, static_cast<int>(std::nearbyint(ingress / target)));
  last_adaptation_ = now;
}

bool AdaptiveFrameSkipper::set_target_fps(std::optional<double> target_fps) {
  if (target_fps && !(*target_fps > 0)) return false;
  config_.target_fps = target_fps;
  adapt(true);
  return true;
}

void AdaptiveFrameSkipper::reset() {
  frame_counter_ = 0;
  skip_interval_ = 1;
}

}  // namespace trickle::runtime
