#pragma once

// The encoder's input side: which processor output tensors it can read (any of the layouts
// upstream PyTrickle accepts), and, for a picture that must be resized, that picture as packed
// 8-bit RGB for libswscale (pictures of the stream's size go through tensor_to_yuv420.hpp). Unlike
// upstream, a tensor it cannot read is reported (upstream drops it with a debug log, docs/compatibility.md Q8) and
// values are clamped rather than wrapped (docs/compatibility.md Q7).

#include <cstdint>
#include <vector>

#include <tl/expected.hpp>

#include "trickle/media/media_error.hpp"
#include "trickle/tensor/tensor.hpp"

namespace trickle::media {

struct RgbSize {
  int width = 0;
  int height = 0;
};

// The picture in a processor's output, as an [H, W, C] view of the same memory, when the encoder
// can read it: CPU tensors [1, H, W, C] or [H, W, C] with C in {1, 3, 4}, float32 or uint8, any
// strides, at most 16384 pixels on a side. Anything else is an error naming the problem.
tl::expected<tensor::Tensor, MediaError> encodable_picture(const tensor::Tensor& tensor);

// Accepts CPU tensors [1, H, W, C] or [H, W, C] with C in {1, 3, 4}, float32 (values in [0, 1],
// scaled by 255, rounded and clamped) or uint8 (used as is), with any strides. One channel is
// replicated to grey RGB; a fourth (alpha) is dropped. Writes H * W * 3 bytes, rows of W * 3 with
// no padding, into `rgb` (resized; reuse it across frames to avoid reallocation). Anything else
// (CHW, other ranks, C = 2, other dtypes, zero size, CUDA memory) is an error naming the problem.
tl::expected<RgbSize, MediaError> tensor_to_rgb24(const tensor::Tensor& tensor, std::vector<std::uint8_t>& rgb);

}  // namespace trickle::media
