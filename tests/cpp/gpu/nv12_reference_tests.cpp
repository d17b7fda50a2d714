// The CPU reference of the GPU kernels, against libswscale (the CPU path's scaler and colour
// converter): the same picture to within a few levels, so the formulas, the cover-crop geometry
// and the chroma placement are right before any kernel is compared with them.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

extern "C" {
#include <libswscale/swscale.h>
}

#include "nv12_pictures.hpp"
#include "trickle/gpu/nv12_reference.hpp"
#include "trickle/gpu/yuv_pixel_math.hpp"
#include "trickle/media/av_ptr.hpp"
#include "trickle/media/video_frame_converter.hpp"

namespace trickle::gpu {
namespace {

struct Difference {
  double mean = 0;
  int max = 0;
};

Difference compare(const std::uint8_t* a, const std::uint8_t* b, std::size_t count) {
  Difference result;
  double total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const int d = std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i]));
    total += d;
    result.max = std::max(result.max, d);
  }
  result.mean = total / static_cast<double>(count);
  return result;
}

// The CPU path's answer: an AVFrame over the same planes through VideoFrameConverter (swscale).
std::vector<std::uint8_t> via_swscale(const test::HostNv12& picture, int width, int height) {
  media::AvFramePtr frame = media::make_av_frame();
  frame->format = AV_PIX_FMT_NV12;
  frame->width = picture.width;
  frame->height = picture.height;
  frame->data[0] = const_cast<std::uint8_t*>(picture.y.data());
  frame->data[1] = const_cast<std::uint8_t*>(picture.uv.data());
  frame->linesize[0] = picture.y_pitch;
  frame->linesize[1] = picture.uv_pitch;
  frame->color_range = AVCOL_RANGE_MPEG;
  media::VideoFrameConverter converter(media::VideoTensorFormat{width, height, tensor::DType::uint8, false});
  auto tensor = converter.convert(*frame);
  BOOST_REQUIRE_MESSAGE(tensor.has_value(), (tensor ? "" : tensor.error().message));
  const auto* data = static_cast<const std::uint8_t*>(tensor->data());
  return std::vector<std::uint8_t>(data, data + tensor->nbytes());
}

std::vector<std::uint8_t> via_reference(const test::HostNv12& picture, int width, int height) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3, 7);
  nv12_to_rgb_reference(picture.view(), test::rgb_view(rgb.data(), PixelType::uint8, width, height), YuvColour{});
  return rgb;
}

BOOST_AUTO_TEST_CASE(nv12_to_rgb_fits_the_picture_as_libswscale_does) {
  struct Case {
    int source_width, source_height, width, height;
  };
  // Landscape and portrait sources, odd sizes, an upscale, the identity.
  for (const Case c : {Case{1280, 720, 512, 512}, Case{720, 1280, 512, 512}, Case{641, 479, 300, 200},
                       Case{320, 240, 640, 360}, Case{512, 512, 512, 512}}) {
    const test::HostNv12 picture = test::gradient_nv12(c.source_width, c.source_height);
    const auto expected = via_swscale(picture, c.width, c.height);
    const auto actual = via_reference(picture, c.width, c.height);
    BOOST_REQUIRE_EQUAL(actual.size(), expected.size());
    const Difference d = compare(actual.data(), expected.data(), actual.size());
    BOOST_TEST_MESSAGE(c.source_width << "x" << c.source_height << " -> " << c.width << "x" << c.height
                                      << ": mean |diff| " << d.mean << ", max " << d.max);
    // Same geometry and colours: a shifted crop or a wrong matrix moves the mean by tens.
    BOOST_TEST(d.mean < 2.0);
  }
}

BOOST_AUTO_TEST_CASE(rgb_to_nv12_matches_libswscale_levels) {
  const int width = 320, height = 180;
  auto rgb = test::gradient_rgb(width, height);
  test::HostNv12 ours = test::blank_nv12(width, height);
  rgb_to_nv12_reference(test::rgb_view(rgb.data(), PixelType::uint8, width, height), ours.image(), ColourMatrix::bt601);

  test::HostNv12 theirs = test::blank_nv12(width, height);
  SwsContext* context = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_NV12, SWS_BILINEAR,
                                       nullptr, nullptr, nullptr);
  BOOST_REQUIRE(context != nullptr);
  const std::uint8_t* source[] = {rgb.data()};
  const int source_stride[] = {width * 3};
  std::uint8_t* target[] = {theirs.y.data(), theirs.uv.data()};
  const int target_stride[] = {theirs.y_pitch, theirs.uv_pitch};
  sws_scale(context, source, source_stride, 0, height, target, target_stride);
  sws_freeContext(context);

  const Difference luma = compare(ours.y.data(), theirs.y.data(), ours.y.size());
  const Difference chroma = compare(ours.uv.data(), theirs.uv.data(), ours.uv.size());
  BOOST_TEST_MESSAGE("rgb -> nv12 vs swscale: luma mean " << luma.mean << " max " << luma.max << ", chroma mean "
                                                          << chroma.mean << " max " << chroma.max);
  BOOST_TEST(luma.max <= 2);
  BOOST_TEST(chroma.mean < 2.0);
}

// uint8 and float32 (k / 255) inputs, contiguous or through strides, grey or RGBA: the same NV12.
BOOST_AUTO_TEST_CASE(rgb_to_nv12_accepts_every_layout_alike) {
  const int width = 64, height = 36;
  auto rgb = test::gradient_rgb(width, height);
  test::HostNv12 expected = test::blank_nv12(width, height);
  rgb_to_nv12_reference(test::rgb_view(rgb.data(), PixelType::uint8, width, height), expected.image(),
                        ColourMatrix::bt709);

  std::vector<float> as_float(rgb.size());
  std::transform(rgb.begin(), rgb.end(), as_float.begin(),
                 [](std::uint8_t level) { return static_cast<float>(level) / 255.0f; });
  test::HostNv12 from_float = test::blank_nv12(width, height);
  rgb_to_nv12_reference(test::rgb_view(as_float.data(), PixelType::float32, width, height), from_float.image(),
                        ColourMatrix::bt709);
  BOOST_TEST(from_float.y == expected.y);
  BOOST_TEST(from_float.uv == expected.uv);

  // Channel-planar [3, H, W] memory seen as H x W x 3 through strides.
  std::vector<std::uint8_t> planar(rgb.size());
  for (int row = 0; row < height; ++row) {
    for (int column = 0; column < width; ++column) {
      for (int channel = 0; channel < 3; ++channel) {
        planar[(static_cast<std::size_t>(channel) * height + row) * width + column] =
            rgb[(static_cast<std::size_t>(row) * width + column) * 3 + channel];
      }
    }
  }
  RgbView strided = test::rgb_view(planar.data(), PixelType::uint8, width, height);
  strided.channel_stride = static_cast<std::int64_t>(width) * height;
  strided.column_stride = 1;
  strided.row_stride = width;
  test::HostNv12 from_planar = test::blank_nv12(width, height);
  rgb_to_nv12_reference(strided, from_planar.image(), ColourMatrix::bt709);
  BOOST_TEST(from_planar.y == expected.y);
  BOOST_TEST(from_planar.uv == expected.uv);

  // Out-of-range and NaN floats clamp as the CPU encoder path does.
  std::vector<float> wild = {-1.0f, 2.0f, std::nanf(""), 0.5f};
  BOOST_TEST(media::float_to_level(wild[0]) == 0);
  BOOST_TEST(media::float_to_level(wild[1]) == 255);
  BOOST_TEST(media::float_to_level(wild[2]) == 0);
  BOOST_TEST(media::float_to_level(wild[3]) == 128);
}

// Decode-side then encode-side at the same size: the picture survives within chroma rounding.
BOOST_AUTO_TEST_CASE(rgb_to_nv12_and_back_keeps_the_picture) {
  const int width = 128, height = 72;
  auto rgb = test::gradient_rgb(width, height);
  test::HostNv12 nv12 = test::blank_nv12(width, height);
  rgb_to_nv12_reference(test::rgb_view(rgb.data(), PixelType::uint8, width, height), nv12.image(), ColourMatrix::bt601);
  std::vector<float> back(rgb.size());
  nv12_to_rgb_reference(nv12.view(), test::rgb_view(back.data(), PixelType::float32, width, height), YuvColour{});
  std::vector<std::uint8_t> levels(back.size());
  bool exact_levels = true;
  for (std::size_t i = 0; i < back.size(); ++i) {
    levels[i] = static_cast<std::uint8_t>(std::lround(back[i] * 255.0f));
    exact_levels = exact_levels && static_cast<float>(levels[i]) / 255.0f == back[i];
  }
  BOOST_TEST(exact_levels);  // float output is k / 255, as the CPU decoder path's
  const Difference d = compare(levels.data(), rgb.data(), rgb.size());
  BOOST_TEST_MESSAGE("rgb -> nv12 -> rgb: mean |diff| " << d.mean << ", max " << d.max);
  BOOST_TEST(d.mean < 3.0);
}

}  // namespace
}  // namespace trickle::gpu
