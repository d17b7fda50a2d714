#pragma once

// The pictures the GPU path moves between NVDEC, the processor and NVENC, described as plain
// pointers and pitches so the same descriptions serve the CUDA kernels (device pointers) and
// their CPU reference (host pointers). No CUDA header is needed to use them.

#include <cstdint>

namespace trickle::gpu {

// How Y'CbCr levels map to RGB. Decoded H.264 says which; unspecified means BT.601, as libswscale
// assumes.
enum class ColourMatrix : std::uint8_t { bt601, bt709 };

struct YuvColour {
  ColourMatrix matrix = ColourMatrix::bt601;
  bool full_range = false;  // false: "TV" levels, Y in 16..235
};

// NV12: a full-size luma plane, then one half-size plane of interleaved (U, V) pairs.
struct Nv12View {
  const std::uint8_t* y = nullptr;
  const std::uint8_t* uv = nullptr;
  int y_pitch = 0;  // bytes from one row to the next
  int uv_pitch = 0;
  int width = 0;  // luma size; chroma is (width + 1) / 2 x (height + 1) / 2
  int height = 0;
};

struct Nv12Image {
  std::uint8_t* y = nullptr;
  std::uint8_t* uv = nullptr;
  int y_pitch = 0;
  int uv_pitch = 0;
  int width = 0;  // even: encoders want whole chroma samples
  int height = 0;
};

enum class PixelType : std::uint8_t { uint8, float32 };

// An H x W x C picture in a tensor's memory: element strides for each axis, so [1, H, W, C],
// [H, W, C] and non-contiguous views all fit. Float values are in [0, 1] (k / 255 levels).
struct RgbView {
  void* data = nullptr;
  PixelType type = PixelType::float32;
  int height = 0;
  int width = 0;
  int channels = 3;             // 1 (grey), 3 (RGB) or 4 (RGBA, alpha ignored)
  std::int64_t row_stride = 0;  // in elements
  std::int64_t column_stride = 0;
  std::int64_t channel_stride = 1;
};

}  // namespace trickle::gpu
