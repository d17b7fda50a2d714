#pragma once

// NVDEC's pictures (FFmpeg CUDA frames holding NV12) → the processor's tensor, on the GPU: our
// nv12_to_rgb kernel writes the target tensor (cover-scale + centre-crop, RGB, uint8 or float32)
// straight from the decoder's surface into pooled CUDA memory, with no trip through the host.
// Built with CUDA only.

#include <memory>

#include <tl/expected.hpp>

#include "trickle/gpu/cuda_tensors.hpp"
#include "trickle/media/av_ptr.hpp"
#include "trickle/media/media_error.hpp"
#include "trickle/media/video_frame_converter.hpp"

namespace trickle::gpu {

class CudaFrameConverter {
 public:
  CudaFrameConverter(media::VideoTensorFormat format, int device_index, std::size_t pool_idle_buffers = 8);
  ~CudaFrameConverter();
  CudaFrameConverter(const CudaFrameConverter&) = delete;
  CudaFrameConverter& operator=(const CudaFrameConverter&) = delete;

  // Whether `frame` is a picture this converter takes (a CUDA frame of NV12).
  static bool accepts(const AVFrame& frame);

  // The tensor is complete when this returns (the work is synchronised on our stream), so any
  // consumer stream may read it: the DLPack capsule carries no event to wait on.
  tl::expected<tensor::Tensor, media::MediaError> convert(const AVFrame& frame);

 private:
  media::VideoTensorFormat format_;
  int device_index_ = 0;
  CudaBufferPool pool_;
  void* stream_ = nullptr;  // cudaStream_t, created on first use
};

}  // namespace trickle::gpu
