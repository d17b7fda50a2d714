#pragma once

// Float pictures for the tests of the encoder's input conversions: values in and far outside
// [0, 1] with the special ones (NaN, infinities, half levels, -0, huge, denormal) at a known place,
// and the same values laid out channel-planar, so a packed (SIMD) path can be compared with the
// strided (one value at a time) path on identical input.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "trickle/tensor/tensor.hpp"

namespace trickle::test {

// Ten values, written from `first_special` on: NaN, -inf, +inf, half a level, 254.5 levels, -0,
// 1, 1e30, -1e30, the smallest denormal. The rest: exact levels k/255 and random values in
// [-0.5, 1.5].
inline std::vector<float> float_values_with_specials(std::size_t count, unsigned seed, std::size_t first_special) {
  std::vector<float> values(count);
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> wild(-0.5f, 1.5f);
  for (std::size_t i = 0; i < count; ++i) {
    values[i] = i % 5 == 0 ? static_cast<float>(i % 256) / 255.0f : wild(random);
  }
  const float specials[] = {std::nanf(""),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::infinity(),
                            0.5f / 255.0f,
                            254.5f / 255.0f,
                            -0.0f,
                            1.0f,
                            1e30f,
                            -1e30f,
                            std::numeric_limits<float>::denorm_min()};
  std::copy(std::begin(specials), std::end(specials), values.begin() + first_special);
  return values;
}

// A packed H x W x 3 picture's values rearranged channel by channel; `planar_view` shows them as
// H x W x 3 again through strides.
inline std::vector<float> channel_planar(const std::vector<float>& packed, int height, int width) {
  std::vector<float> planar(packed.size());
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        planar[(static_cast<std::size_t>(c) * height + y) * width + x] =
            packed[(static_cast<std::size_t>(y) * width + x) * 3 + c];
      }
    }
  }
  return planar;
}

inline tensor::Tensor planar_view(std::vector<float>& planar, int height, int width) {
  return tensor::Tensor::from_blob(planar.data(), {height, width, 3},
                                   {width, 1, static_cast<std::int64_t>(height) * width}, tensor::DType::float32,
                                   tensor::Device::cpu(), {});
}

}  // namespace trickle::test
