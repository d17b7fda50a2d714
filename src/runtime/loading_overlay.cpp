#include "trickle/runtime/loading_overlay.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace trickle::runtime {

namespace {
// Upstream's size rule, CHW-looking shapes included (docs/compatibility.md Q5).
std::optional<std::pair<std::int64_t, std::int64_t>> overlay_size(const tensor::Tensor& tensor) {
  const auto& s = tensor.shape();
  if (s.size() == 4) return s[1] == 3 ? std::pair{s[2], s[3]} : std::pair{s[1], s[2]};
  if (s.size() == 3) return s[0] == 3 ? std::pair{s[1], s[2]} : std::pair{s[0], s[1]};
  return std::nullopt;
}

void fill_rect(float* pixels, std::int64_t width, std::int64_t height, std::int64_t x0, std::int64_t y0, std::int64_t w,
               std::int64_t h, std::array<int, 3> rgb) {
  const std::int64_t x1 = std::min(width, x0 + w), y1 = std::min(height, y0 + h);
  for (std::int64_t y = std::max<std::int64_t>(0, y0); y < y1; ++y) {
    for (std::int64_t x = std::max<std::int64_t>(0, x0); x < x1; ++x) {
      float* p = pixels + (y * width + x) * 3;
      for (int c = 0; c < 3; ++c) p[c] = static_cast<float>(rgb[c]) / 255.0f;
    }
  }
}
}  // namespace

std::optional<media::DecodedVideoFrame> render_loading_overlay(const media::DecodedVideoFrame& original,
                                                               std::int64_t frame_counter,
                                                               std::optional<double> progress) {
  if (!original.tensor.defined()) return std::nullopt;
  auto size = overlay_size(original.tensor);
  if (!size || size->first <= 0 || size->second <= 0) return std::nullopt;
  if (progress && (*progress < 0.0 || *progress > 1.0)) return std::nullopt;
  const auto [height, width] = *size;
  tensor::Tensor card = tensor::Tensor::empty({height, width, 3}, tensor::DType::float32);
  float* pixels = card.data_as<float>();
  fill_rect(pixels, width, height, 0, 0, width, height, {30, 30, 30});
  // Upstream's geometry: panel min(400, W-40) x min(200, H-40), centred, 2-px border.
  const std::int64_t panel_w = std::min<std::int64_t>(400, width - 40);
  const std::int64_t panel_h = std::min<std::int64_t>(200, height - 40);
  const std::int64_t panel_x = (width - panel_w) / 2, panel_y = (height - panel_h) / 2;
  const std::int64_t centre_y = height / 2;
  if (panel_w > 4 && panel_h > 4) {
    fill_rect(pixels, width, height, panel_x, panel_y, panel_w, panel_h, {60, 60, 60});
    fill_rect(pixels, width, height, panel_x + 2, panel_y + 2, panel_w - 4, panel_h - 4, {20, 20, 20});
  }
  const std::int64_t track_w = panel_w - 60, track_x = panel_x + 30, track_y = centre_y + 40;
  if (track_w > 0) {
    fill_rect(pixels, width, height, track_x, track_y, track_w, 6, {40, 40, 40});
    const double fraction = progress && *progress > 0
                                ? std::clamp(*progress, 0.0, 1.0)
                                : (std::sin(static_cast<double>(frame_counter) * 0.1) + 1.0) / 2.0;
    fill_rect(pixels, width, height, track_x, track_y, static_cast<std::int64_t>(track_w * fraction), 6,
              {100, 150, 255});
  }
  return media::DecodedVideoFrame{std::move(card), original.pts, original.time_base, original.demuxed};
}

OverlayController::OverlayController(OverlayConfig config) : config_(std::move(config)) {}

std::optional<media::DecodedVideoFrame> OverlayController::update_and_apply(
    const media::DecodedVideoFrame& original, std::optional<media::DecodedVideoFrame> processed) {
  const auto now = Clock::now();
  if (!overlay_applies()) {
    loading_active_ = manual_loading_ = false;
    consecutive_received_frames_ = 0;
    return processed;
  }
  if (processed) {
    last_video_frame_ = now;
    ++consecutive_received_frames_;
    if (loading_active_ && !manual_loading_ &&
        consecutive_received_frames_ >= std::max(1, config_.frame_count_to_disable)) {
      loading_active_ = false;
    }
  } else {
    consecutive_received_frames_ = 0;
    const auto& timeout = config_.auto_timeout_seconds;
    if (!manual_loading_ && timeout && *timeout >= 0 &&
        std::chrono::duration<double>(now - last_video_frame_).count() >= *timeout) {
      loading_active_ = true;
    }
  }
  if (!loading_active_) return processed ? std::move(processed) : std::optional{original};
  ++frame_counter_;
  return render_loading_overlay(original, frame_counter_, config_.progress);
}

void OverlayController::set_manual_loading(bool active) {
  loading_active_ = manual_loading_ = active;
  last_video_frame_ = Clock::now();
  if (!active) frame_counter_ = 0;
}

bool OverlayController::should_skip_processing() const {
  return config_.mode != OverlayMode::passthrough && manual_loading_;
}

void OverlayController::apply_config(OverlayConfig config) {
  config_ = std::move(config);
  frame_counter_ = 0;
  if (!overlay_applies()) loading_active_ = false;
}

void OverlayController::reset() {
  last_video_frame_ = Clock::now();
  loading_active_ = manual_loading_ = false;
  frame_counter_ = 0;
  consecutive_received_frames_ = 0;
}

}  // namespace trickle::runtime
