#pragma once

// Test pictures for the GPU path: NV12 and RGB in host memory, made up here (smooth gradients
// with a few hard edges), so the tests need no media files.

#include <cstdint>
#include <vector>

#include "trickle/gpu/nv12_images.hpp"

namespace trickle::gpu::test {

struct HostNv12 {
  int width = 0;
  int height = 0;
  int y_pitch = 0;
  int uv_pitch = 0;
  std::vector<std::uint8_t> y;
  std::vector<std::uint8_t> uv;

  Nv12View view() const { return Nv12View{y.data(), uv.data(), y_pitch, uv_pitch, width, height}; }
  Nv12Image image() { return Nv12Image{y.data(), uv.data(), y_pitch, uv_pitch, width, height}; }
};

// Pitches padded past the width, as decoders' surfaces are.
inline HostNv12 blank_nv12(int width, int height) {
  HostNv12 picture;
  picture.width = width;
  picture.height = height;
  picture.y_pitch = (width + 63) / 64 * 64 + 64;
  picture.uv_pitch = picture.y_pitch;
  picture.y.assign(static_cast<std::size_t>(picture.y_pitch) * height, 0);
  picture.uv.assign(static_cast<std::size_t>(picture.uv_pitch) * ((height + 1) / 2), 0);
  return picture;
}

inline HostNv12 gradient_nv12(int width, int height) {
  HostNv12 picture = blank_nv12(width, height);
  for (int row = 0; row < height; ++row) {
    for (int column = 0; column < width; ++column) {
      int level = 16 + (column * 200) / width + (row * 19) / height;
      // A bright box in the middle third: edges the scaler must place right.
      if (column > width / 3 && column < 2 * width / 3 && row > height / 3 && row < 2 * height / 3) {
        level = 220;
      }
      picture.y[static_cast<std::size_t>(row) * picture.y_pitch + column] = static_cast<std::uint8_t>(level);
    }
  }
  for (int row = 0; row < (height + 1) / 2; ++row) {
    for (int column = 0; column < (width + 1) / 2; ++column) {
      std::uint8_t* uv = &picture.uv[static_cast<std::size_t>(row) * picture.uv_pitch + 2 * column];
      uv[0] = static_cast<std::uint8_t>(64 + (column * 128) / ((width + 1) / 2));
      uv[1] = static_cast<std::uint8_t>(192 - (row * 128) / ((height + 1) / 2));
    }
  }
  return picture;
}

// H x W x 3 uint8 levels, contiguous.
inline std::vector<std::uint8_t> gradient_rgb(int width, int height) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
  for (int row = 0; row < height; ++row) {
    for (int column = 0; column < width; ++column) {
      std::uint8_t* pixel = &rgb[(static_cast<std::size_t>(row) * width + column) * 3];
      pixel[0] = static_cast<std::uint8_t>((column * 255) / (width - 1));
      pixel[1] = static_cast<std::uint8_t>((row * 255) / (height - 1));
      pixel[2] = static_cast<std::uint8_t>(128 + ((column + row) % 64) - 32);
    }
  }
  return rgb;
}

inline RgbView rgb_view(void* data, PixelType type, int width, int height, int channels = 3) {
  RgbView view;
  view.data = data;
  view.type = type;
  view.width = width;
  view.height = height;
  view.channels = channels;
  view.channel_stride = 1;
  view.column_stride = channels;
  view.row_stride = static_cast<std::int64_t>(width) * channels;
  return view;
}

}  // namespace trickle::gpu::test
