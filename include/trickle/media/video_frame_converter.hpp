#pragma once

// Turns a decoded picture into the tensor upstream PyTrickle hands its processors: cover-scale
// (libswscale, bilinear, via rgba as upstream) + centre crop to the target size, RGB, channels-last, float k/255 or
// uint8, with or without the leading batch dimension.

#include <cstdint>
#include <memory>
#include <vector>

#include <tl/expected.hpp>

#include "trickle/media/av_ptr.hpp"
#include "trickle/media/cover_crop.hpp"
#include "trickle/media/media_error.hpp"
#include "trickle/tensor/dtype.hpp"
#include "trickle/tensor/tensor.hpp"
#include "trickle/tensor/tensor_pool.hpp"

struct SwsContext;

namespace trickle::media {

struct VideoTensorFormat {
  int width = 512;
  int height = 512;
  // float32 (upstream's k/255) or uint8 (raw levels, 4x less memory); others are refused.
  tensor::DType dtype = tensor::DType::float32;
  // [1, H, W, 3] like upstream; false gives [H, W, 3].
  bool batch_dim = true;
};

class VideoFrameConverter {
 public:
  explicit VideoFrameConverter(VideoTensorFormat format, std::size_t pool_idle_buffers = 8);
  ~VideoFrameConverter();
  VideoFrameConverter(const VideoFrameConverter&) = delete;
  VideoFrameConverter& operator=(const VideoFrameConverter&) = delete;

  const VideoTensorFormat& format() const { return format_; }

  // The tensor comes from this converter's pool; its buffer returns there when released.
  tl::expected<tensor::Tensor, MediaError> convert(const AVFrame& frame);

 private:
  struct SwsDeleter {
    void operator()(SwsContext* context) const noexcept;
  };

  tl::expected<void, MediaError> prepare_scaler(const AVFrame& frame, int width, int height, AVPixelFormat output);

  VideoTensorFormat format_;
  tensor::TensorPool pool_;
  std::unique_ptr<SwsContext, SwsDeleter> scaler_;
  // The scaled RGBA (or unscaled RGB) picture when it cannot be written into the output tensor
  // directly; kept between frames so steady state allocates nothing.
  std::vector<std::uint8_t> scratch_;
};

}  // namespace trickle::media
