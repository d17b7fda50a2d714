#pragma once

// The CPU reference of the GPU path's kernels (nv12_kernels.hpp): the same per-pixel arithmetic
// (yuv_pixel_math.hpp) in plain loops over host memory. The kernel tests compare against it, and
// it is itself checked against libswscale, so a wrong formula shows up here without a GPU.

#include "trickle/gpu/nv12_images.hpp"
#include "trickle/media/cover_crop.hpp"

namespace trickle::gpu {

// NV12 → an RGB picture of target.height x target.width, fitted by upstream's cover-scale +
// centre-crop rule.
void nv12_to_rgb_reference(const Nv12View& source, const RgbView& target, YuvColour colour);

// RGB (uint8 or float in [0, 1], 1/3/4 channels, any strides) → NV12 of the same size.
void rgb_to_nv12_reference(const RgbView& source, const Nv12Image& target, ColourMatrix matrix);

}  // namespace trickle::gpu
