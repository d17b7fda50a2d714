// A C++ worker whose processor is a LibTorch computation: a 1x1 convolution with a sepia colour
// matrix (the smallest "model" with real weights), blended with the input by `strength`, which
// /stream/params changes while the stream runs. Frames cross between the engine and torch
// through DLPack without copies. Built only where CMake finds LibTorch (torch's wheel ships it).
//
//   torch_sepia_worker --port 8000

#include "trickle/torch/torch_tensor.hpp"  // first: see the note in the header

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>

#include "trickle/api/worker_main.hpp"

// LibTorch ships its own fmt, which clashes with the one spdlog is built on: this file logs with
// stdio and leaves spdlog to the engine.

class TorchSepiaProcessor final : public trickle::FrameProcessor {
 public:
  void load_model(const trickle::Json&) override {
    // Output channel c = sum over input channels k of weight[c][k]: the classic sepia matrix.
    weight_ = at::tensor({0.393f, 0.769f, 0.189f,  //
                          0.349f, 0.686f, 0.168f,  //
                          0.272f, 0.534f, 0.131f})
                  .view({3, 3, 1, 1});
    at::set_num_threads(1);  // on the CPU the engine's other stages run on the other core
    // One run on a small frame: LibTorch's first call initialises its kernels (hundreds of ms),
    // which would otherwise stall the stream's first frames.
    (void)at::conv2d(at::zeros({1, 3, 8, 8}), weight_);
    std::fprintf(stderr, "torch sepia: model ready\n");
  }

  std::optional<trickle::VideoFrame> process_video(trickle::VideoFrame frame) override {
    at::Tensor input = trickle::to_torch(frame.tensor);  // shares the frame's memory
    // With --cuda-frames the frame is a CUDA tensor (the engine synchronised it before handing it
    // over) and the model runs where the frame is; the result goes back to the engine as it is.
    if (weight_.device() != input.device()) weight_ = weight_.to(input.device());
    const bool batched = input.dim() == 4;
    at::Tensor nhwc = batched ? input : input.unsqueeze(0);
    at::Tensor rgb = nhwc.to(at::kFloat);
    if (frame.tensor.dtype() == trickle::DType::uint8) rgb = rgb / 255.0f;
    at::Tensor sepia = at::conv2d(rgb.permute({0, 3, 1, 2}), weight_).clamp(0.0, 1.0).permute({0, 2, 3, 1});
    at::Tensor out = (rgb * (1.0f - strength_) + sepia * strength_).contiguous();
    if (!batched) out = out.squeeze(0);
    frame.tensor = trickle::from_torch(out);  // the encoder reads torch's memory directly
    return frame;
  }

  void update_params(const trickle::Json& params) override {
    std::fprintf(stderr, "torch sepia: params %s\n", trickle::python_json_dumps(params).c_str());
    if (params.contains("strength") && params["strength"].is_number()) {
      strength_ = std::clamp(params["strength"].get<float>(), 0.0f, 1.0f);
    }
  }

 private:
  at::Tensor weight_;
  float strength_ = 1.0f;
};

int main(int argc, char** argv) {
  return trickle::api::run_worker(
      argc, argv, [] { return std::make_shared<TorchSepiaProcessor>(); },
      "Trickle worker running a LibTorch sepia filter");
}
