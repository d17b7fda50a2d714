#include "trickle/gpu/nv12_reference.hpp"

#include "trickle/gpu/yuv_pixel_math.hpp"

namespace trickle::gpu {

void nv12_to_rgb_reference(const Nv12View& source, const RgbView& target, YuvColour colour) {
  const media::CoverCrop geometry = media::cover_crop(source.width, source.height, target.width, target.height);
  for (int row = 0; row < target.height; ++row) {
    for (int column = 0; column < target.width; ++column) {
      const Rgb8 pixel = cover_pixel(source, geometry, column, row, colour);
      store_level(target, row, column, 0, pixel.r);
      store_level(target, row, column, 1, pixel.g);
      store_level(target, row, column, 2, pixel.b);
    }
  }
}

void rgb_to_nv12_reference(const RgbView& source, const Nv12Image& target, ColourMatrix matrix) {
  for (int block_row = 0; block_row < (target.height + 1) / 2; ++block_row) {
    for (int block_column = 0; block_column < (target.width + 1) / 2; ++block_column) {
      nv12_block(source, target, block_column, block_row, matrix);
    }
  }
}

}  // namespace trickle::gpu
