#pragma once

// The encoder's usual input path: a processor's RGB picture straight into the planar YUV 4:2:0
// picture x264 encodes, two rows at a time through a small buffer of levels. It replaces an RGB24
// copy of the frame plus libswscale's packed-RGB conversion, which took about 1.2 ms of a
// 512x512 frame (as long as half of x264's own work) on the development machine.

#include <cstdint>
#include <vector>

#include "trickle/tensor/tensor.hpp"

namespace trickle::media {

// Where the converted picture goes: three planes, e.g. an AVFrame's. Width and height are even.
struct Yuv420Planes {
  std::uint8_t* y = nullptr;
  std::uint8_t* u = nullptr;
  std::uint8_t* v = nullptr;
  int y_stride = 0;  // bytes from one row to the next
  int u_stride = 0;
  int v_stride = 0;
  int width = 0;
  int height = 0;
};

// `picture` is an [H, W, C] view as encodable_picture() gives (float32 in [0, 1] or uint8; C of
// 1, 3 or 4; any strides) with H and W at least the planes' size; its top-left part of that size
// is converted. Levels as colour_levels.hpp defines them: BT.601 "TV" range, what libswscale and
// x264 assume when nothing else is said; chroma from each 2x2 block's average colour. `scratch`
// holds six rows of levels and is reused across calls.
void tensor_to_yuv420(const tensor::Tensor& picture, const Yuv420Planes& out, std::vector<std::int16_t>& scratch);

}  // namespace trickle::media
