#include "trickle/gpu/cuda_frame_converter.hpp"

#include <cuda_runtime_api.h>

extern "C" {
#include <libavutil/hwcontext.h>
}

#include "trickle/gpu/nv12_kernels.hpp"

namespace trickle::gpu {

namespace {

YuvColour colour_of(const AVFrame& frame) {
  YuvColour colour;
  colour.matrix = frame.colorspace == AVCOL_SPC_BT709 ? ColourMatrix::bt709 : ColourMatrix::bt601;
  colour.full_range = frame.color_range == AVCOL_RANGE_JPEG;
  return colour;
}

}  // namespace

CudaFrameConverter::CudaFrameConverter(media::VideoTensorFormat format, int device_index, std::size_t pool_idle_buffers)
    : format_(format), device_index_(device_index), pool_(pool_idle_buffers) {}

CudaFrameConverter::~CudaFrameConverter() {
  if (stream_ != nullptr) {
    cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
  }
}

bool CudaFrameConverter::accepts(const AVFrame& frame) {
  if (frame.format != AV_PIX_FMT_CUDA || frame.hw_frames_ctx == nullptr) {
    return false;
  }
  const auto* frames = reinterpret_cast<const AVHWFramesContext*>(frame.hw_frames_ctx->data);
  return frames->sw_format == AV_PIX_FMT_NV12;
}

tl::expected<tensor::Tensor, media::MediaError> CudaFrameConverter::convert(const AVFrame& frame) {
  if (!accepts(frame)) {
    return tl::unexpected(media::media_error("not a CUDA NV12 picture"));
  }
  if (format_.dtype != tensor::DType::uint8 && format_.dtype != tensor::DType::float32) {
    return tl::unexpected(media::media_error("GPU frames are uint8 or float32"));
  }
  // The decoder's thread: FFmpeg opened this device's primary context, which the runtime uses too.
  if (cudaError_t error = cudaSetDevice(device_index_); error != cudaSuccess) {
    return tl::unexpected(media::media_error(std::string("cudaSetDevice: ") + cudaGetErrorString(error)));
  }
  if (stream_ == nullptr) {
    cudaStream_t stream = nullptr;
    // A blocking stream: ordered after FFmpeg's copies out of NVDEC on the legacy default stream.
    if (cudaError_t error = cudaStreamCreate(&stream); error != cudaSuccess) {
      return tl::unexpected(media::media_error(std::string("cudaStreamCreate: ") + cudaGetErrorString(error)));
    }
    stream_ = stream;
  }
  tensor::Tensor::Shape shape = format_.batch_dim ? tensor::Tensor::Shape{1, format_.height, format_.width, 3}
                                                  : tensor::Tensor::Shape{format_.height, format_.width, 3};
  auto tensor = pool_.acquire(std::move(shape), format_.dtype, device_index_);
  if (!tensor) {
    return tl::unexpected(media::media_error(tensor.error()));
  }
  Nv12View source;
  source.y = frame.data[0];
  source.uv = frame.data[1];
  source.y_pitch = frame.linesize[0];
  source.uv_pitch = frame.linesize[1];
  source.width = frame.width;
  source.height = frame.height;
  RgbView target;
  target.data = tensor->data();
  target.type = format_.dtype == tensor::DType::uint8 ? PixelType::uint8 : PixelType::float32;
  target.height = format_.height;
  target.width = format_.width;
  target.channels = 3;
  target.channel_stride = 1;
  target.column_stride = 3;
  target.row_stride = static_cast<std::int64_t>(format_.width) * 3;
  if (KernelError error = nv12_to_rgb(source, target, colour_of(frame), stream_); !error.empty()) {
    return tl::unexpected(media::media_error(error));
  }
  if (cudaError_t error = cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)); error != cudaSuccess) {
    return tl::unexpected(media::media_error(std::string("converting a GPU picture: ") + cudaGetErrorString(error)));
  }
  return std::move(*tensor);
}

}  // namespace trickle::gpu
