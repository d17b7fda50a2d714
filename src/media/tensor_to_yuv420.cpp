#include "trickle/media/tensor_to_yuv420.hpp"

#include <cstddef>
#include <type_traits>

#include "trickle/media/colour_levels.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace trickle::media {
namespace {

// One picture row as three rows of levels (0..255), the form both the luma and the chroma steps
// read with plain vector loads.
struct LevelRow {
  std::int16_t* r = nullptr;
  std::int16_t* g = nullptr;
  std::int16_t* b = nullptr;
};

// Any layout: strided, grey (channel 0 for all three), RGBA (alpha never read), either dtype.
template <typename T>
void any_row_levels(const T* row, std::int64_t column_stride, std::int64_t channel_stride, std::int64_t channels,
                    int width, const LevelRow& out) {
  const std::int64_t channel_step = channels == 1 ? 0 : channel_stride;
  for (int x = 0; x < width; ++x) {
    const T* pixel = row + x * column_stride;
    std::int16_t levels[3];
    for (int c = 0; c < 3; ++c) {
      if constexpr (std::is_same_v<T, float>) {
        levels[c] = static_cast<std::int16_t>(float_to_level(pixel[c * channel_step]));
      } else {
        levels[c] = pixel[c * channel_step];
      }
    }
    out.r[x] = levels[0];
    out.g[x] = levels[1];
    out.b[x] = levels[2];
  }
}

// Packed float RGB (the decoder's default output, and what most processors hand back). SSE2, the
// x86-64 baseline: four pixels are three loads, pulled apart into R, G and B with five shuffles,
// then scaled, rounded and clamped exactly as float_to_level does (max(NaN, 0) is 0).
void packed_float_row_levels(const float* row, int width, const LevelRow& out) {
  int x = 0;
#if defined(__SSE2__)
  const __m128 scale = _mm_set1_ps(255.0f);
  const __m128 half = _mm_set1_ps(0.5f);
  const __m128 zero = _mm_setzero_ps();
  const __m128 top = _mm_set1_ps(255.0f);
  const auto level = [&](__m128 value) {
    value = _mm_add_ps(_mm_mul_ps(value, scale), half);
    return _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(value, zero), top));
  };
  for (; x + 8 <= width; x += 8) {
    __m128i r[2], g[2], b[2];
    for (int k = 0; k < 2; ++k) {
      const float* p = row + 3 * (x + 4 * k);
      const __m128 a = _mm_loadu_ps(p);                                     // r0 g0 b0 r1
      const __m128 m = _mm_loadu_ps(p + 4);                                 // g1 b1 r2 g2
      const __m128 c = _mm_loadu_ps(p + 8);                                 // b2 r3 g3 b3
      const __m128 middle = _mm_shuffle_ps(m, c, _MM_SHUFFLE(1, 0, 3, 2));  // r2 g2 b2 r3
      const __m128 front = _mm_shuffle_ps(a, m, _MM_SHUFFLE(1, 0, 2, 1));   // g0 b0 g1 b1
      const __m128 greens = _mm_shuffle_ps(m, c, _MM_SHUFFLE(2, 2, 3, 3));  // g2 g2 g3 g3
      r[k] = level(_mm_shuffle_ps(a, middle, _MM_SHUFFLE(3, 0, 3, 0)));
      g[k] = level(_mm_shuffle_ps(front, greens, _MM_SHUFFLE(2, 0, 2, 0)));
      b[k] = level(_mm_shuffle_ps(front, c, _MM_SHUFFLE(3, 0, 3, 1)));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out.r + x), _mm_packs_epi32(r[0], r[1]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out.g + x), _mm_packs_epi32(g[0], g[1]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out.b + x), _mm_packs_epi32(b[0], b[1]));
  }
#endif
  for (; x < width; ++x) {
    out.r[x] = static_cast<std::int16_t>(float_to_level(row[3 * x]));
    out.g[x] = static_cast<std::int16_t>(float_to_level(row[3 * x + 1]));
    out.b[x] = static_cast<std::int16_t>(float_to_level(row[3 * x + 2]));
  }
}

void packed_byte_row_levels(const std::uint8_t* row, int width, const LevelRow& out) {
  for (int x = 0; x < width; ++x) {
    out.r[x] = row[3 * x];
    out.g[x] = row[3 * x + 1];
    out.b[x] = row[3 * x + 2];
  }
}

void row_levels(const tensor::Tensor& picture, int y, int width, const LevelRow& out) {
  const std::int64_t column_stride = picture.stride(1);
  const std::int64_t channel_stride = picture.stride(2);
  const bool packed_rgb = picture.size(2) == 3 && column_stride == 3 && channel_stride == 1;
  const std::int64_t offset = y * picture.stride(0);
  if (picture.dtype() == tensor::DType::float32) {
    const float* row = static_cast<const float*>(picture.data()) + offset;
    if (packed_rgb) return packed_float_row_levels(row, width, out);
    return any_row_levels(row, column_stride, channel_stride, picture.size(2), width, out);
  }
  const auto* row = static_cast<const std::uint8_t*>(picture.data()) + offset;
  if (packed_rgb) return packed_byte_row_levels(row, width, out);
  any_row_levels(row, column_stride, channel_stride, picture.size(2), width, out);
}

// Y' of one row. In 16 bits the weighted sum is at most 56228: exact as unsigned, hence the
// logical shift.
void luma_row(const LevelRow& in, int width, const YcbcrWeights& w, std::uint8_t* y) {
  int x = 0;
#if defined(__SSE2__)
  const __m128i wr = _mm_set1_epi16(static_cast<std::int16_t>(w.luma_r));
  const __m128i wg = _mm_set1_epi16(static_cast<std::int16_t>(w.luma_g));
  const __m128i wb = _mm_set1_epi16(static_cast<std::int16_t>(w.luma_b));
  const __m128i rounding = _mm_set1_epi16(128);
  const __m128i offset = _mm_set1_epi16(16);
  const auto eight = [&](int at) {
    const auto load = [at](const std::int16_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at)); };
    __m128i sum = _mm_add_epi16(_mm_mullo_epi16(load(in.r), wr), _mm_mullo_epi16(load(in.g), wg));
    sum = _mm_add_epi16(_mm_add_epi16(sum, _mm_mullo_epi16(load(in.b), wb)), rounding);
    return _mm_add_epi16(_mm_srli_epi16(sum, 8), offset);
  };
  for (; x + 16 <= width; x += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + x), _mm_packus_epi16(eight(x), eight(x + 8)));
  }
#endif
  for (; x < width; ++x) y[x] = static_cast<std::uint8_t>(ycbcr_luma(in.r[x], in.g[x], in.b[x], w));
}

// Cb and Cr of one row of 2x2 blocks (rows `upper` and `lower`). The weighted sums stay within
// ±28815 + 128: exact in signed 16 bits, hence the arithmetic shift.
void chroma_row(const LevelRow& upper, const LevelRow& lower, int chroma_width, const YcbcrWeights& w, std::uint8_t* u,
                std::uint8_t* v) {
  int x = 0;
#if defined(__SSE2__)
  const __m128i ones = _mm_set1_epi16(1);
  const __m128i two = _mm_set1_epi32(2);
  // The average colour of eight blocks (sixteen columns of both rows) of one channel.
  const auto averages = [&](const std::int16_t* above, const std::int16_t* below, int at) {
    const auto pair_sums = [&](int column) {
      const __m128i columns = _mm_add_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(above + column)),
                                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(below + column)));
      return _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(columns, ones), two), 2);
    };
    return _mm_packs_epi32(pair_sums(2 * at), pair_sums(2 * at + 8));
  };
  const auto weighted = [](__m128i r, __m128i g, __m128i b, int wr, int wg, int wb) {
    __m128i sum = _mm_add_epi16(_mm_mullo_epi16(r, _mm_set1_epi16(static_cast<std::int16_t>(wr))),
                                _mm_mullo_epi16(g, _mm_set1_epi16(static_cast<std::int16_t>(wg))));
    sum = _mm_add_epi16(sum, _mm_mullo_epi16(b, _mm_set1_epi16(static_cast<std::int16_t>(wb))));
    sum = _mm_srai_epi16(_mm_add_epi16(sum, _mm_set1_epi16(128)), 8);
    const __m128i level = _mm_add_epi16(sum, _mm_set1_epi16(128));
    return _mm_packus_epi16(level, level);
  };
  for (; x + 8 <= chroma_width; x += 8) {
    const __m128i r = averages(upper.r, lower.r, x);
    const __m128i g = averages(upper.g, lower.g, x);
    const __m128i b = averages(upper.b, lower.b, x);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(u + x), weighted(r, g, b, w.cb_r, w.cb_g, w.cb_b));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(v + x), weighted(r, g, b, w.cr_r, w.cr_g, w.cr_b));
  }
#endif
  for (; x < chroma_width; ++x) {
    const auto block = [&](const std::int16_t* above, const std::int16_t* below) {
      return block_average(above[2 * x] + above[2 * x + 1] + below[2 * x] + below[2 * x + 1]);
    };
    const int r = block(upper.r, lower.r);
    const int g = block(upper.g, lower.g);
    const int b = block(upper.b, lower.b);
    u[x] = static_cast<std::uint8_t>(ycbcr_cb(r, g, b, w));
    v[x] = static_cast<std::uint8_t>(ycbcr_cr(r, g, b, w));
  }
}

}  // namespace

void tensor_to_yuv420(const tensor::Tensor& picture, const Yuv420Planes& out, std::vector<std::int16_t>& scratch) {
  const std::size_t width = static_cast<std::size_t>(out.width);
  scratch.resize(6 * width);
  const LevelRow upper{scratch.data(), scratch.data() + width, scratch.data() + 2 * width};
  const LevelRow lower{scratch.data() + 3 * width, scratch.data() + 4 * width, scratch.data() + 5 * width};
  const YcbcrWeights weights = ycbcr_weights(false);
  for (int y = 0; y + 1 < out.height; y += 2) {
    row_levels(picture, y, out.width, upper);
    row_levels(picture, y + 1, out.width, lower);
    luma_row(upper, out.width, weights, out.y + static_cast<std::ptrdiff_t>(y) * out.y_stride);
    luma_row(lower, out.width, weights, out.y + static_cast<std::ptrdiff_t>(y + 1) * out.y_stride);
    chroma_row(upper, lower, out.width / 2, weights, out.u + static_cast<std::ptrdiff_t>(y / 2) * out.u_stride,
               out.v + static_cast<std::ptrdiff_t>(y / 2) * out.v_stride);
  }
}

}  // namespace trickle::media
