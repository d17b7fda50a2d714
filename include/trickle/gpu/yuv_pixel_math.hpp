#pragma once

// Per-pixel arithmetic shared by the CUDA kernels and their CPU reference: one definition, so a
// kernel's uint8 output can be compared with the reference exactly. Everything is integer (8-bit
// fixed point for sample positions and weights) except the float → level step, which is done
// without contraction on both sides.

#include <cstdint>

#include "trickle/gpu/nv12_images.hpp"
#include "trickle/media/colour_levels.hpp"
#include "trickle/media/cover_crop.hpp"

namespace trickle::gpu {

TRICKLE_HOST_DEVICE int clamp_int(int value, int low, int high) {
  return value < low ? low : (value > high ? high : value);
}

TRICKLE_HOST_DEVICE std::uint8_t clamp_level(int value) { return static_cast<std::uint8_t>(clamp_int(value, 0, 255)); }

// Where output sample `index` (of `output_size`, after cropping `offset` samples off a picture
// scaled to `scaled_size`) falls in a source of `source_size` samples, in 1/256 of a sample,
// centres aligned. `subsampling` is 2 for chroma planes (one sample per two luma samples).
struct SamplePosition {
  int index = 0;   // the sample on the left/top
  int weight = 0;  // 0..256: how much of the next sample
};

TRICKLE_HOST_DEVICE SamplePosition source_position(int scaled_index, int scaled_size, int source_size) {
  // ((scaled_index + 0.5) * source_size / scaled_size - 0.5) * 256, floored.
  const std::int64_t numerator = static_cast<std::int64_t>(2 * scaled_index + 1) * source_size * 128;
  std::int64_t position = numerator / scaled_size - 128;
  if (position < 0) position = 0;
  SamplePosition result;
  result.index = static_cast<int>(position >> 8);
  result.weight = static_cast<int>(position & 255);
  if (result.index >= source_size - 1) {
    result.index = source_size - 1;
    result.weight = 0;
  }
  return result;
}

// Bilinear sample of one byte per `step` bytes in a plane.
TRICKLE_HOST_DEVICE int bilinear(const std::uint8_t* plane, int pitch, int step, SamplePosition x, SamplePosition y,
                                 int width, int height) {
  const int x1 = x.index + 1 < width ? x.index + 1 : x.index;
  const int y1 = y.index + 1 < height ? y.index + 1 : y.index;
  const std::uint8_t* row0 = plane + static_cast<std::int64_t>(y.index) * pitch;
  const std::uint8_t* row1 = plane + static_cast<std::int64_t>(y1) * pitch;
  const int top = row0[x.index * step] * (256 - x.weight) + row0[x1 * step] * x.weight;
  const int bottom = row1[x.index * step] * (256 - x.weight) + row1[x1 * step] * x.weight;
  return (top * (256 - y.weight) + bottom * y.weight + 32768) >> 16;
}

struct Rgb8 {
  std::uint8_t r = 0;
  std::uint8_t g = 0;
  std::uint8_t b = 0;
};

// Y'CbCr levels → RGB levels, 8-bit fixed point coefficients.
TRICKLE_HOST_DEVICE Rgb8 yuv_to_rgb(int y, int u, int v, YuvColour colour) {
  const int d = u - 128;
  const int e = v - 128;
  int c = y;
  int ky = 256;
  int rv, gu, gv, bu;
  if (colour.full_range) {
    if (colour.matrix == ColourMatrix::bt709) {
      rv = 403;
      gu = -48;
      gv = -120;
      bu = 475;
    } else {
      rv = 359;
      gu = -88;
      gv = -183;
      bu = 454;
    }
  } else {
    c = y - 16;
    ky = 298;
    if (colour.matrix == ColourMatrix::bt709) {
      rv = 459;
      gu = -55;
      gv = -136;
      bu = 541;
    } else {
      rv = 409;
      gu = -100;
      gv = -208;
      bu = 516;
    }
  }
  Rgb8 out;
  out.r = clamp_level((ky * c + rv * e + 128) >> 8);
  out.g = clamp_level((ky * c + gu * d + gv * e + 128) >> 8);
  out.b = clamp_level((ky * c + bu * d + 128) >> 8);
  return out;
}

// RGB levels → Y'CbCr (colour_levels.hpp), with the matrix the stream is tagged with.
TRICKLE_HOST_DEVICE std::uint8_t rgb_to_luma(int r, int g, int b, ColourMatrix matrix) {
  return clamp_level(media::ycbcr_luma(r, g, b, media::ycbcr_weights(matrix == ColourMatrix::bt709)));
}

TRICKLE_HOST_DEVICE std::uint8_t rgb_to_cb(int r, int g, int b, ColourMatrix matrix) {
  return clamp_level(media::ycbcr_cb(r, g, b, media::ycbcr_weights(matrix == ColourMatrix::bt709)));
}

TRICKLE_HOST_DEVICE std::uint8_t rgb_to_cr(int r, int g, int b, ColourMatrix matrix) {
  return clamp_level(media::ycbcr_cr(r, g, b, media::ycbcr_weights(matrix == ColourMatrix::bt709)));
}

// One element of an RgbView as a level.
TRICKLE_HOST_DEVICE int level_at(const RgbView& view, int row, int column, int channel) {
  const std::int64_t offset = row * view.row_stride + column * view.column_stride + channel * view.channel_stride;
  if (view.type == PixelType::uint8) {
    return static_cast<const std::uint8_t*>(view.data)[offset];
  }
  return media::float_to_level(static_cast<const float*>(view.data)[offset]);
}

TRICKLE_HOST_DEVICE Rgb8 rgb_at(const RgbView& view, int row, int column) {
  Rgb8 out;
  if (view.channels == 1) {
    const auto grey = static_cast<std::uint8_t>(level_at(view, row, column, 0));
    out.r = out.g = out.b = grey;
    return out;
  }
  out.r = static_cast<std::uint8_t>(level_at(view, row, column, 0));
  out.g = static_cast<std::uint8_t>(level_at(view, row, column, 1));
  out.b = static_cast<std::uint8_t>(level_at(view, row, column, 2));
  return out;
}

TRICKLE_HOST_DEVICE void store_level(const RgbView& view, int row, int column, int channel, std::uint8_t level) {
  const std::int64_t offset = row * view.row_stride + column * view.column_stride + channel * view.channel_stride;
  if (view.type == PixelType::uint8) {
    static_cast<std::uint8_t*>(view.data)[offset] = level;
  } else {
    // k / 255 exactly as the CPU decoder path gives it (a correctly rounded division).
    static_cast<float*>(view.data)[offset] = static_cast<float>(level) / 255.0f;
  }
}

// Output pixel (column, row) of a source picture fitted to the target by upstream's rule: scaled
// to cover `geometry`'s size, then the target box cut out of the centre (outside: black).
TRICKLE_HOST_DEVICE Rgb8 cover_pixel(const Nv12View& source, const media::CoverCrop& geometry, int column, int row,
                                     YuvColour colour) {
  const int scaled_x = column + geometry.crop_x;
  const int scaled_y = row + geometry.crop_y;
  if (scaled_x < 0 || scaled_y < 0 || scaled_x >= geometry.scaled_width || scaled_y >= geometry.scaled_height) {
    return Rgb8{};
  }
  const int chroma_width = (source.width + 1) / 2;
  const int chroma_height = (source.height + 1) / 2;
  const int y = bilinear(source.y, source.y_pitch, 1, source_position(scaled_x, geometry.scaled_width, source.width),
                         source_position(scaled_y, geometry.scaled_height, source.height), source.width, source.height);
  const SamplePosition chroma_x = source_position(scaled_x, geometry.scaled_width, chroma_width);
  const SamplePosition chroma_y = source_position(scaled_y, geometry.scaled_height, chroma_height);
  const int u = bilinear(source.uv, source.uv_pitch, 2, chroma_x, chroma_y, chroma_width, chroma_height);
  const int v = bilinear(source.uv + 1, source.uv_pitch, 2, chroma_x, chroma_y, chroma_width, chroma_height);
  return yuv_to_rgb(y, u, v, colour);
}

// The 2x2 block at (2 * block_column, 2 * block_row) of an RGB picture into NV12: four luma
// samples and one chroma pair from the block's average (edges repeat the last row/column).
TRICKLE_HOST_DEVICE void nv12_block(const RgbView& source, const Nv12Image& target, int block_column, int block_row,
                                    ColourMatrix matrix) {
  int sum_r = 0, sum_g = 0, sum_b = 0;
  for (int dy = 0; dy < 2; ++dy) {
    const int row = 2 * block_row + dy;
    const int source_row = row < source.height ? row : source.height - 1;
    for (int dx = 0; dx < 2; ++dx) {
      const int column = 2 * block_column + dx;
      const int source_column = column < source.width ? column : source.width - 1;
      const Rgb8 pixel = rgb_at(source, source_row, source_column);
      sum_r += pixel.r;
      sum_g += pixel.g;
      sum_b += pixel.b;
      if (row < target.height && column < target.width) {
        target.y[static_cast<std::int64_t>(row) * target.y_pitch + column] =
            rgb_to_luma(pixel.r, pixel.g, pixel.b, matrix);
      }
    }
  }
  const int r = media::block_average(sum_r), g = media::block_average(sum_g), b = media::block_average(sum_b);
  std::uint8_t* uv = target.uv + static_cast<std::int64_t>(block_row) * target.uv_pitch + 2 * block_column;
  uv[0] = rgb_to_cb(r, g, b, matrix);
  uv[1] = rgb_to_cr(r, g, b, matrix);
}

}  // namespace trickle::gpu
