#include "trickle/media/video_frame_converter.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace trickle::media {

namespace {

// Upstream divides a float32 tensor by 255.0 in float32; a table of those exact quotients makes
// the conversion a lookup with bit-identical results.
const std::array<float, 256>& unit_levels() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> levels{};
    for (int k = 0; k < 256; ++k) {
      levels[k] = static_cast<float>(k) / 255.0f;
    }
    return levels;
  }();
  return table;
}

constexpr std::size_t row_alignment = 64;

std::size_t aligned_stride(int width, std::size_t pixel_bytes) {
  const std::size_t bytes = static_cast<std::size_t>(width) * pixel_bytes;
  return (bytes + row_alignment - 1) / row_alignment * row_alignment;
}

}  // namespace

void VideoFrameConverter::SwsDeleter::operator()(SwsContext* context) const noexcept { sws_freeContext(context); }

VideoFrameConverter::VideoFrameConverter(VideoTensorFormat format, std::size_t pool_idle_buffers)
    : format_(format), pool_(pool_idle_buffers) {}

VideoFrameConverter::~VideoFrameConverter() = default;

tl::expected<void, MediaError> VideoFrameConverter::prepare_scaler(const AVFrame& frame, int width, int height,
                                                                   AVPixelFormat output) {
  // sws_getCachedContext keeps the context while source and destination stay the same and
  // rebuilds it on a resolution or format change mid-stream.
  SwsContext* context =
      sws_getCachedContext(scaler_.release(), frame.width, frame.height, static_cast<AVPixelFormat>(frame.format),
                           width, height, output, SWS_BILINEAR, nullptr, nullptr, nullptr);
  scaler_.reset(context);
  if (context == nullptr) {
    const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame.format));
    return tl::unexpected(
        media_error(fmt::format("cannot scale {}x{} {} to {}x{} {}", frame.width, frame.height,
                                name != nullptr ? name : "?", width, height, av_get_pix_fmt_name(output))));
  }
  // Upstream takes the YUV matrix from the frame (unspecified means BT.601, libswscale's default)
  // and leaves the range to libswscale, which reads it from the pixel format.
  int* inverse_table = nullptr;
  int* table = nullptr;
  int source_range = 0;
  int destination_range = 0;
  int brightness = 0;
  int contrast = 0;
  int saturation = 0;
  if (sws_getColorspaceDetails(context, &inverse_table, &source_range, &table, &destination_range, &brightness,
                               &contrast, &saturation) >= 0) {
    // The context keeps its own copy of the table, so compare values; re-setting them on every
    // frame would rebuild libswscale's lookup tables each time.
    const int* wanted = sws_getCoefficients(frame.colorspace);
    if (std::memcmp(wanted, inverse_table, 4 * sizeof(int)) != 0) {
      sws_setColorspaceDetails(context, wanted, source_range, table, destination_range, brightness, contrast,
                               saturation);
    }
  }
  return {};
}

tl::expected<tensor::Tensor, MediaError> VideoFrameConverter::convert(const AVFrame& frame) {
  if (format_.dtype != tensor::DType::float32 && format_.dtype != tensor::DType::uint8) {
    return tl::unexpected(media_error("video tensors must be float32 or uint8"));
  }
  if (frame.width <= 0 || frame.height <= 0 || format_.width <= 0 || format_.height <= 0) {
    return tl::unexpected(media_error("video frame or target size is empty"));
  }
  const CoverCrop geometry = cover_crop(frame.width, frame.height, format_.width, format_.height);
  if (geometry.scaled_width <= 0 || geometry.scaled_height <= 0) {
    return tl::unexpected(media_error(
        fmt::format("{}x{} is too thin to cover {}x{}", frame.width, frame.height, format_.width, format_.height)));
  }
  // Upstream scales to rgba and drops alpha, but converts a picture already at the target size to
  // rgb24: libswscale's rgba and rgb24 writers round differently (up to 5 levels apart), so each
  // case uses upstream's format to give the same values.
  const bool scaling = frame.width != format_.width || frame.height != format_.height;
  if (auto prepared = prepare_scaler(frame, geometry.scaled_width, geometry.scaled_height,
                                     scaling ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24);
      !prepared) {
    return tl::unexpected(prepared.error());
  }

  const int target_width = format_.width;
  const int target_height = format_.height;
  tensor::Tensor::Shape shape{target_height, target_width, 3};
  if (format_.batch_dim) {
    shape.insert(shape.begin(), 1);
  }
  tensor::Tensor tensor = pool_.acquire(std::move(shape), format_.dtype);

  const std::size_t target_stride = static_cast<std::size_t>(target_width) * 3;
  if (!scaling && format_.dtype == tensor::DType::uint8) {
    // Nothing to scale, crop or convert: libswscale writes the output tensor itself.
    std::uint8_t* planes[4] = {static_cast<std::uint8_t*>(tensor.data()), nullptr, nullptr, nullptr};
    int strides[4] = {static_cast<int>(target_stride), 0, 0, 0};
    const int rows = sws_scale(scaler_.get(), frame.data, frame.linesize, 0, frame.height, planes, strides);
    if (rows != target_height) {
      return tl::unexpected(media_error_from_av(rows < 0 ? rows : AVERROR_BUG, "sws_scale"));
    }
    return tensor;
  }

  const std::size_t pixel_bytes = scaling ? 4 : 3;
  const std::size_t scratch_stride = aligned_stride(geometry.scaled_width, pixel_bytes);
  // The extra row of slack covers SIMD writers that store a little past a row's last pixel.
  scratch_.resize(scratch_stride * (static_cast<std::size_t>(geometry.scaled_height) + 1));
  std::uint8_t* planes[4] = {scratch_.data(), nullptr, nullptr, nullptr};
  int strides[4] = {static_cast<int>(scratch_stride), 0, 0, 0};
  const int rows = sws_scale(scaler_.get(), frame.data, frame.linesize, 0, frame.height, planes, strides);
  if (rows != geometry.scaled_height) {
    return tl::unexpected(media_error_from_av(rows < 0 ? rows : AVERROR_BUG, "sws_scale"));
  }

  // The part of the target box that lies inside the scaled picture; the rest stays black, as
  // PIL's crop pads it.
  const int first_column = std::max(0, -geometry.crop_x);
  const int end_column = std::min(target_width, geometry.scaled_width - geometry.crop_x);
  const auto& levels = unit_levels();
  for (int y = 0; y < target_height; ++y) {
    const int source_y = geometry.crop_y + y;
    const bool inside = source_y >= 0 && source_y < geometry.scaled_height && first_column < end_column;
    const std::uint8_t* source = inside ? scratch_.data() + static_cast<std::size_t>(source_y) * scratch_stride +
                                              static_cast<std::size_t>(geometry.crop_x + first_column) * pixel_bytes
                                        : nullptr;
    const std::size_t row_begin = static_cast<std::size_t>(y) * target_stride;
    const std::size_t lead = static_cast<std::size_t>(first_column) * 3;
    const std::size_t columns = inside ? static_cast<std::size_t>(end_column - first_column) : 0;
    const std::size_t body = columns * 3;
    if (format_.dtype == tensor::DType::uint8) {
      std::uint8_t* row = static_cast<std::uint8_t*>(tensor.data()) + row_begin;
      if (!inside) {
        std::memset(row, 0, target_stride);
        continue;
      }
      std::memset(row, 0, lead);
      if (pixel_bytes == 3) {
        std::memcpy(row + lead, source, body);
      } else {
        for (std::size_t x = 0; x < columns; ++x) {  // drop alpha
          row[lead + x * 3] = source[x * 4];
          row[lead + x * 3 + 1] = source[x * 4 + 1];
          row[lead + x * 3 + 2] = source[x * 4 + 2];
        }
      }
      std::memset(row + lead + body, 0, target_stride - lead - body);
    } else {
      float* row = static_cast<float*>(tensor.data()) + row_begin;
      if (!inside) {
        std::fill(row, row + target_stride, 0.0f);
        continue;
      }
      std::fill(row, row + lead, 0.0f);
      if (pixel_bytes == 3) {
        for (std::size_t i = 0; i < body; ++i) {
          row[lead + i] = levels[source[i]];
        }
      } else {
        for (std::size_t x = 0; x < columns; ++x) {  // drop alpha
          row[lead + x * 3] = levels[source[x * 4]];
          row[lead + x * 3 + 1] = levels[source[x * 4 + 1]];
          row[lead + x * 3 + 2] = levels[source[x * 4 + 2]];
        }
      }
      std::fill(row + lead + body, row + target_stride, 0.0f);
    }
  }
  return tensor;
}

}  // namespace trickle::media
