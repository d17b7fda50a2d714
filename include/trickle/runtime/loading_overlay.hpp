#pragma once

// Upstream PyTrickle's loading overlay (OverlayConfig + OverlayController): while the processor
// produces nothing for auto_timeout_seconds (a model warming up), or while loading is switched on
// by hand, the output shows a "loading" card instead of freezing; the first processed frames turn
// it off again. The decision rules are upstream's; the card is drawn here without text (the engine
// has no font renderer): dark background, centred panel with a border, animated progress bar.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "trickle/media/decoded_frame.hpp"

namespace trickle::runtime {

enum class OverlayMode { progressbar, passthrough };

struct OverlayConfig {
  OverlayMode mode = OverlayMode::progressbar;
  std::string message = "Loading...";
  std::optional<double> progress;  // none: animated
  bool enabled = true;
  std::optional<double> auto_timeout_seconds = 1.5;
  int frame_count_to_disable = 1;
};

// The card at the size of `original` ((1,)H,W,C in any dtype): an [H, W, 3] float32 frame with
// the original's pts and time base, like upstream's build_frame_overlay. nullopt when the
// original has no usable size or progress is outside [0, 1].
std::optional<media::DecodedVideoFrame> render_loading_overlay(const media::DecodedVideoFrame& original,
                                                               std::int64_t frame_counter,
                                                               std::optional<double> progress);

class OverlayController {
 public:
  explicit OverlayController(OverlayConfig config = {});

  // The frame to publish for `original` given what the processor returned (nullopt: nothing),
  // or nullopt to publish nothing.
  std::optional<media::DecodedVideoFrame> update_and_apply(const media::DecodedVideoFrame& original,
                                                           std::optional<media::DecodedVideoFrame> processed);

  void set_manual_loading(bool active);
  // Manual loading means the processor is not even called (upstream's should_skip_processing).
  bool should_skip_processing() const;
  void apply_config(OverlayConfig config);
  void reset();

  bool loading_active() const { return loading_active_; }
  const OverlayConfig& config() const { return config_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool overlay_applies() const { return config_.enabled && config_.mode == OverlayMode::progressbar; }

  OverlayConfig config_;
  Clock::time_point last_video_frame_ = Clock::now();
  bool loading_active_ = false;
  bool manual_loading_ = false;
  std::int64_t frame_counter_ = 0;
  int consecutive_received_frames_ = 0;
};

}  // namespace trickle::runtime
