#pragma once

// The decoder's output, shaped like upstream PyTrickle's VideoFrame / AudioFrame inputs.

#include <chrono>
#include <cstdint>
#include <string>

extern "C" {
#include <libavutil/rational.h>
}

#include "trickle/tensor/tensor.hpp"

namespace trickle::media {

struct DecodedVideoFrame {
  tensor::Tensor tensor;  // [1, H, W, 3] (or [H, W, 3]) RGB, float32 k/255 or uint8
  std::int64_t pts = 0;
  AVRational time_base{0, 1};  // the stream's
  // When the demuxer handed out the packet this frame came from: the start of the engine's
  // latency accounting (earlier stages are the network's).
  std::chrono::steady_clock::time_point demuxed{};
};

struct DecodedAudioFrame {
  // As PyAV's to_ndarray(): planar formats (channels, nb_samples), packed (1, nb_samples *
  // channels) interleaved; dtype follows the format (fltp/flt float32, s16 int16, s32 int32,
  // s64 int64, dbl float64, u8 uint8).
  tensor::Tensor samples;
  int nb_samples = 0;  // per channel
  std::string format;  // e.g. "fltp"
  std::string layout;  // e.g. "stereo"
  int sample_rate = 0;
  int channels = 0;
  std::int64_t pts = 0;
  AVRational time_base{0, 1};
};

}  // namespace trickle::media
