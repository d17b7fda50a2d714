// The encoder's RGB → YUV 4:2:0 conversion: its SIMD rows against its per-pixel rows, against the
// GPU path's per-pixel reference (the two must give the same levels), against the BT.601 formula
// computed here in floating point, and against libswscale, which did this job before.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "float_test_pictures.hpp"
#include "trickle/gpu/nv12_reference.hpp"
#include "trickle/media/tensor_to_rgb.hpp"
#include "trickle/media/tensor_to_yuv420.hpp"

extern "C" {
#include <libswscale/swscale.h>
}

namespace trickle::media {
namespace {

struct Yuv420 {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> y, u, v;

  Yuv420(int width_in, int height_in)
      : width(width_in),
        height(height_in),
        y(static_cast<std::size_t>(width_in) * height_in, 0xAA),
        u(static_cast<std::size_t>(width_in / 2) * (height_in / 2), 0xAA),
        v(u.size(), 0xAA) {}

  Yuv420Planes planes() { return {y.data(), u.data(), v.data(), width, width / 2, width / 2, width, height}; }
};

Yuv420 convert(const tensor::Tensor& tensor, int width, int height) {
  auto picture = encodable_picture(tensor);
  BOOST_REQUIRE(picture.has_value());
  Yuv420 out(width, height);
  std::vector<std::int16_t> scratch;
  tensor_to_yuv420(*picture, out.planes(), scratch);
  return out;
}

tensor::Tensor float_tensor(std::vector<float>& values, int height, int width, int channels) {
  return tensor::Tensor::from_blob(values.data(), {height, width, channels}, {}, tensor::DType::float32,
                                   tensor::Device::cpu(), {});
}

tensor::Tensor byte_tensor(std::vector<std::uint8_t>& values, int height, int width, int channels) {
  return tensor::Tensor::from_blob(values.data(), {height, width, channels}, {}, tensor::DType::uint8,
                                   tensor::Device::cpu(), {});
}

std::vector<std::uint8_t> random_levels(std::size_t count, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> level(0, 255);
  std::vector<std::uint8_t> levels(count);
  for (auto& value : levels) value = static_cast<std::uint8_t>(level(random));
  return levels;
}

std::vector<float> as_float(const std::vector<std::uint8_t>& levels) {
  std::vector<float> values(levels.size());
  std::transform(levels.begin(), levels.end(), values.begin(),
                 [](std::uint8_t level) { return static_cast<float>(level) / 255.0f; });
  return values;
}

int max_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  int worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

double mean_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += std::abs(a[i] - b[i]);
  return sum / static_cast<double>(a.size());
}

// Sizes that leave tails after every SIMD loop (8 float pixels, 16 luma, 8 chroma samples), and a
// picture one column and one row larger than the planes (the encoder's odd-size crop).
constexpr int picture_width = 47;
constexpr int picture_height = 39;
constexpr int width = 46;
constexpr int height = 38;

BOOST_AUTO_TEST_CASE(simd_rows_and_per_pixel_rows_agree_on_every_value) {
  const std::size_t count = static_cast<std::size_t>(picture_height) * picture_width * 3;
  // Specials from pixel 9 on.
  std::vector<float> packed = test::float_values_with_specials(count, 11, 3 * 9);
  // The same values channel-planar, seen as H x W x 3 through strides: the per-pixel path.
  std::vector<float> planar = test::channel_planar(packed, picture_height, picture_width);
  const tensor::Tensor strided = test::planar_view(planar, picture_height, picture_width);
  const Yuv420 fast = convert(float_tensor(packed, picture_height, picture_width, 3), width, height);
  const Yuv420 slow = convert(strided, width, height);
  BOOST_TEST(fast.y == slow.y, boost::test_tools::per_element());
  BOOST_TEST(fast.u == slow.u, boost::test_tools::per_element());
  BOOST_TEST(fast.v == slow.v, boost::test_tools::per_element());

  // Pixel 9 (NaN, -inf, +inf) is black: the special values read as level 0 and 255 as documented.
  // Pixel 10 (half a level, 254.5 levels, -0) rounds to (1, 255, 0).
  const int y9 = ((66 * 0 + 129 * 0 + 25 * 255 + 128) >> 8) + 16;
  BOOST_TEST(fast.y[9] == y9);
  const int y10 = ((66 * 1 + 129 * 255 + 25 * 0 + 128) >> 8) + 16;
  BOOST_TEST(fast.y[10] == y10);

  // uint8 levels and float32 k / 255 of the same levels: the same picture.
  auto levels = random_levels(count, 5);
  auto values = as_float(levels);
  const Yuv420 from_bytes = convert(byte_tensor(levels, picture_height, picture_width, 3), width, height);
  const Yuv420 from_floats = convert(float_tensor(values, picture_height, picture_width, 3), width, height);
  BOOST_TEST(from_bytes.y == from_floats.y);
  BOOST_TEST(from_bytes.u == from_floats.u);
  BOOST_TEST(from_bytes.v == from_floats.v);
}

// The GPU path's reference (include/trickle/gpu/yuv_pixel_math.hpp, one pixel at a time) and the
// CPU encoder's rows give the same levels, so a stream looks the same whichever path encoded it.
BOOST_AUTO_TEST_CASE(the_same_levels_as_the_gpu_reference) {
  auto levels = random_levels(static_cast<std::size_t>(picture_height) * picture_width * 3, 3);
  const Yuv420 ours = convert(byte_tensor(levels, picture_height, picture_width, 3), width, height);

  std::vector<std::uint8_t> luma(static_cast<std::size_t>(width) * height);
  std::vector<std::uint8_t> chroma(static_cast<std::size_t>(width) * (height / 2));
  gpu::RgbView source;
  source.data = levels.data();
  source.type = gpu::PixelType::uint8;
  source.height = height;
  source.width = width;
  source.channels = 3;
  source.row_stride = static_cast<std::int64_t>(picture_width) * 3;
  source.column_stride = 3;
  source.channel_stride = 1;
  gpu::rgb_to_nv12_reference(source, {luma.data(), chroma.data(), width, width, width, height},
                             gpu::ColourMatrix::bt601);
  BOOST_TEST(ours.y == luma, boost::test_tools::per_element());
  std::vector<std::uint8_t> u, v;
  for (std::size_t i = 0; i < chroma.size(); i += 2) {
    u.push_back(chroma[i]);
    v.push_back(chroma[i + 1]);
  }
  BOOST_TEST(ours.u == u, boost::test_tools::per_element());
  BOOST_TEST(ours.v == v, boost::test_tools::per_element());
}

// BT.601 from its definition, in double precision: Y' = 16 + 219 (0.299 R + 0.587 G + 0.114 B),
// Cb = 128 + 224 (B - Y) / 1.772, Cr = 128 + 224 (R - Y) / 1.402 on [0, 1] values; chroma of a
// block from its mean colour. The 8-bit fixed point stays within one level.
BOOST_AUTO_TEST_CASE(levels_follow_the_bt601_definition) {
  auto levels = random_levels(static_cast<std::size_t>(picture_height) * picture_width * 3, 9);
  const Yuv420 ours = convert(byte_tensor(levels, picture_height, picture_width, 3), width, height);
  const auto at = [&](int y, int x, int c) {
    return levels[(static_cast<std::size_t>(y) * picture_width + x) * 3 + c] / 255.0;
  };
  const auto luma_of = [](double r, double g, double b) { return 0.299 * r + 0.587 * g + 0.114 * b; };
  int worst_luma = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double expected = 16 + 219 * luma_of(at(y, x, 0), at(y, x, 1), at(y, x, 2));
      worst_luma = std::max(worst_luma, static_cast<int>(std::lround(std::abs(ours.y[y * width + x] - expected))));
    }
  }
  int worst_chroma = 0;
  for (int y = 0; y < height / 2; ++y) {
    for (int x = 0; x < width / 2; ++x) {
      double mean[3] = {0, 0, 0};
      for (int c = 0; c < 3; ++c) {
        mean[c] =
            (at(2 * y, 2 * x, c) + at(2 * y, 2 * x + 1, c) + at(2 * y + 1, 2 * x, c) + at(2 * y + 1, 2 * x + 1, c)) / 4;
      }
      const double luma = luma_of(mean[0], mean[1], mean[2]);
      const double cb = 128 + 224 * (mean[2] - luma) / 1.772;
      const double cr = 128 + 224 * (mean[0] - luma) / 1.402;
      const std::size_t i = static_cast<std::size_t>(y) * (width / 2) + x;
      worst_chroma = std::max(worst_chroma, static_cast<int>(std::lround(std::abs(ours.u[i] - cb))));
      worst_chroma = std::max(worst_chroma, static_cast<int>(std::lround(std::abs(ours.v[i] - cr))));
    }
  }
  BOOST_TEST_MESSAGE("largest distance from the definition: luma " << worst_luma << ", chroma " << worst_chroma);
  BOOST_TEST(worst_luma <= 1);
  BOOST_TEST(worst_chroma <= 1);
}

// libswscale did this conversion before (and still does when a processor changes the picture's
// size): the new levels are within a level or two of its on natural content.
BOOST_AUTO_TEST_CASE(close_to_what_libswscale_gave) {
  const int side = 128;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(side) * side * 3);
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      std::uint8_t* pixel = &rgb[(static_cast<std::size_t>(y) * side + x) * 3];
      pixel[0] = static_cast<std::uint8_t>(2 * x);
      pixel[1] = static_cast<std::uint8_t>(2 * y);
      pixel[2] = static_cast<std::uint8_t>((x * y) / 64);
    }
  }
  const Yuv420 ours = convert(byte_tensor(rgb, side, side, 3), side, side);
  Yuv420 theirs(side, side);
  SwsContext* context = sws_getContext(side, side, AV_PIX_FMT_RGB24, side, side, AV_PIX_FMT_YUV420P, SWS_BILINEAR,
                                       nullptr, nullptr, nullptr);
  BOOST_REQUIRE(context != nullptr);
  const std::uint8_t* source[] = {rgb.data()};
  const int source_stride[] = {side * 3};
  std::uint8_t* target[] = {theirs.y.data(), theirs.u.data(), theirs.v.data()};
  const int target_stride[] = {side, side / 2, side / 2};
  sws_scale(context, source, source_stride, 0, side, target, target_stride);
  sws_freeContext(context);
  BOOST_TEST_MESSAGE("vs swscale: luma max " << max_difference(ours.y, theirs.y) << ", chroma mean "
                                             << mean_difference(ours.u, theirs.u) << " / "
                                             << mean_difference(ours.v, theirs.v));
  BOOST_TEST(max_difference(ours.y, theirs.y) <= 2);
  BOOST_TEST(mean_difference(ours.u, theirs.u) < 1.5);
  BOOST_TEST(mean_difference(ours.v, theirs.v) < 1.5);
}

// Grey (one channel) is R = G = B; a fourth channel (alpha) is never read.
BOOST_AUTO_TEST_CASE(grey_and_rgba_pictures_read_as_rgb) {
  const std::size_t pixels = static_cast<std::size_t>(picture_height) * picture_width;
  auto grey = random_levels(pixels, 1);
  std::vector<std::uint8_t> grey_rgb(pixels * 3);
  auto rgb = random_levels(pixels * 3, 2);
  std::vector<std::uint8_t> rgba(pixels * 4);
  for (std::size_t i = 0; i < pixels; ++i) {
    std::fill_n(&grey_rgb[3 * i], 3, grey[i]);
    std::copy_n(&rgb[3 * i], 3, &rgba[4 * i]);
    rgba[4 * i + 3] = static_cast<std::uint8_t>(i * 37);
  }
  const Yuv420 from_grey = convert(byte_tensor(grey, picture_height, picture_width, 1), width, height);
  const Yuv420 from_grey_rgb = convert(byte_tensor(grey_rgb, picture_height, picture_width, 3), width, height);
  BOOST_TEST(from_grey.y == from_grey_rgb.y);
  BOOST_TEST(from_grey.u == from_grey_rgb.u);
  BOOST_TEST(from_grey.v == from_grey_rgb.v);
  const Yuv420 from_rgba = convert(byte_tensor(rgba, picture_height, picture_width, 4), width, height);
  const Yuv420 from_rgb = convert(byte_tensor(rgb, picture_height, picture_width, 3), width, height);
  BOOST_TEST(from_rgba.y == from_rgb.y);
  BOOST_TEST(from_rgba.u == from_rgb.u);
  BOOST_TEST(from_rgba.v == from_rgb.v);
}

}  // namespace
}  // namespace trickle::media
