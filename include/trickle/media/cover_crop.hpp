#pragma once

// Upstream PyTrickle's geometry for fitting a decoded picture to the target size: scale so the
// picture covers the target (keeping its aspect ratio, the free side floored to an even size),
// then cut the target box out of the centre. Computed with upstream's float arithmetic so the
// sizes agree to the pixel.

namespace trickle::media {

struct CoverCrop {
  int scaled_width = 0;  // size the source is scaled to
  int scaled_height = 0;
  int crop_x = 0;  // top-left of the target box in the scaled picture; the box may leave
  int crop_y = 0;  // the picture (odd targets), and the outside is black
};

inline CoverCrop cover_crop(int source_width, int source_height, int target_width, int target_height) {
  CoverCrop result;
  if (source_width == target_width && source_height == target_height) {
    result.scaled_width = target_width;
    result.scaled_height = target_height;
    return result;
  }
  const double source_aspect = static_cast<double>(source_width) / source_height;
  const double target_aspect = static_cast<double>(target_width) / target_height;
  if (target_aspect < source_aspect) {
    result.scaled_height = target_height;
    // Python: int((TH * W / H) / 2) * 2 -- the product is exact integer math, then one division.
    const double width = static_cast<double>(static_cast<long long>(target_height) * source_width) / source_height;
    result.scaled_width = static_cast<int>(width / 2) * 2;
  } else {
    result.scaled_width = target_width;
    const double height = static_cast<double>(static_cast<long long>(target_width) * source_height) / source_width;
    result.scaled_height = static_cast<int>(height / 2) * 2;
  }
  // Python's w // 2 - TW // 2: both halves are non-negative, so C++ division floors the same.
  result.crop_x = result.scaled_width / 2 - target_width / 2;
  result.crop_y = result.scaled_height / 2 - target_height / 2;
  return result;
}

}  // namespace trickle::media
