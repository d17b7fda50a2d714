// A C++ worker that tints the video green; POST /stream/params {"strength": 0..1} (or a control
// message) changes how much, while the stream runs. Frames arrive as upstream PyTrickle's
// processors see them ([1, H, W, 3] float32 in [0, 1]) unless the worker runs with --uint8.
//
//   green_tint_worker --port 8000

#include <algorithm>
#include <atomic>

#include <spdlog/spdlog.h>

#include "trickle/api/worker_main.hpp"

class GreenTintProcessor final : public trickle::FrameProcessor {
 public:
  void load_model(const trickle::Json&) override { spdlog::info("green tint: ready (strength {})", strength_); }

  std::optional<trickle::VideoFrame> process_video(trickle::VideoFrame frame) override {
    const trickle::Tensor& in = frame.tensor;
    if (in.dim() < 3 || in.size(in.dim() - 1) != 3) return frame;  // not RGB: leave it alone
    trickle::Tensor out = trickle::Tensor::empty(in.shape(), in.dtype());
    const trickle::Tensor src = in.contiguous();
    const auto pixels = src.numel() / 3;
    // Green is pulled towards full, red and blue dimmed: a tint that stays visible on white.
    const float g_gain = strength_, rb_gain = 1.0f - strength_ / 2;
    if (src.dtype() == trickle::DType::float32) {
      const float* s = src.data_as<float>();
      float* d = out.data_as<float>();
      for (std::int64_t i = 0; i < pixels; ++i, s += 3, d += 3) {
        d[0] = s[0] * rb_gain;
        d[1] = s[1] + (1.0f - s[1]) * g_gain;
        d[2] = s[2] * rb_gain;
      }
    } else if (src.dtype() == trickle::DType::uint8) {
      const std::uint8_t* s = src.data_as<std::uint8_t>();
      std::uint8_t* d = out.data_as<std::uint8_t>();
      for (std::int64_t i = 0; i < pixels; ++i, s += 3, d += 3) {
        d[0] = static_cast<std::uint8_t>(s[0] * rb_gain);
        d[1] = static_cast<std::uint8_t>(s[1] + (255 - s[1]) * g_gain);
        d[2] = static_cast<std::uint8_t>(s[2] * rb_gain);
      }
    } else {
      return frame;
    }
    frame.tensor = std::move(out);
    return frame;
  }

  void update_params(const trickle::Json& params) override {
    spdlog::info("green tint: params {}", trickle::python_json_dumps(params));
    if (params.contains("strength") && params["strength"].is_number()) {
      strength_ = std::clamp(params["strength"].get<float>(), 0.0f, 1.0f);
    }
  }

 private:
  float strength_ = 0.5f;  // only the processing thread touches it
};

int main(int argc, char** argv) {
  return trickle::api::run_worker(
      argc, argv, [] { return std::make_shared<GreenTintProcessor>(); }, "Trickle worker that tints its input green");
}
