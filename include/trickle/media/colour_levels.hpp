#pragma once

// The arithmetic that turns a processor's RGB into what the video encoder takes, defined once for
// the CPU encoder path (src/media/tensor_to_yuv420.cpp) and the CUDA kernels with their reference
// (include/trickle/gpu/yuv_pixel_math.hpp), so both give the same levels:
// - a float value in [0, 1] becomes a level by scaling, rounding half up and clamping (NaN → 0);
// - RGB levels become Y'CbCr "TV" levels (Y in 16..235) in 8-bit fixed point, BT.601 (what
//   libswscale and x264 assume when nothing is said) or BT.709.

#include <cstdint>

#if defined(__CUDACC__)
#define TRICKLE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TRICKLE_HOST_DEVICE inline
#endif

namespace trickle::media {

// A float in [0, 1] to its level. On the device the intrinsics keep nvcc from fusing the multiply
// and the add, which would round once where the host rounds twice.
TRICKLE_HOST_DEVICE int float_to_level(float value) {
#if defined(__CUDA_ARCH__)
  float level = __fadd_rn(__fmul_rn(value, 255.0f), 0.5f);
#else
  float level = value * 255.0f + 0.5f;
#endif
  level = level > 0.0f ? level : 0.0f;  // NaN compares false: 0
  level = level < 255.0f ? level : 255.0f;
  return static_cast<int>(level);
}

// Weights of R, G and B (in 1/256) for Y', Cb and Cr.
struct YcbcrWeights {
  int luma_r, luma_g, luma_b;
  int cb_r, cb_g, cb_b;
  int cr_r, cr_g, cr_b;
};

TRICKLE_HOST_DEVICE YcbcrWeights ycbcr_weights(bool bt709) {
  if (bt709) return YcbcrWeights{47, 157, 16, -26, -87, 112, 112, -102, -10};
  return YcbcrWeights{66, 129, 25, -38, -74, 112, 112, -94, -18};
}

// For levels in 0..255 the results stay within 15..240, so no clamp is needed, and every
// intermediate fits in 16 bits (unsigned for luma, signed for chroma), which the SIMD code relies
// on. The shifts floor (C++20).
TRICKLE_HOST_DEVICE int ycbcr_luma(int r, int g, int b, const YcbcrWeights& w) {
  return ((w.luma_r * r + w.luma_g * g + w.luma_b * b + 128) >> 8) + 16;
}

TRICKLE_HOST_DEVICE int ycbcr_cb(int r, int g, int b, const YcbcrWeights& w) {
  return ((w.cb_r * r + w.cb_g * g + w.cb_b * b + 128) >> 8) + 128;
}

TRICKLE_HOST_DEVICE int ycbcr_cr(int r, int g, int b, const YcbcrWeights& w) {
  return ((w.cr_r * r + w.cr_g * g + w.cr_b * b + 128) >> 8) + 128;
}

// The chroma of a 2x2 block is taken from its average colour, rounded.
TRICKLE_HOST_DEVICE int block_average(int sum_of_four) { return (sum_of_four + 2) >> 2; }

}  // namespace trickle::media
