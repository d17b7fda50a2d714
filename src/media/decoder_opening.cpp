#include "decoder_opening.hpp"

#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

extern "C" {
#include <libavutil/hwcontext.h>
}

namespace trickle::media {

namespace {

// libavcodec offers the formats it can decode to; with a CUDA device attached, CUDA surfaces.
AVPixelFormat prefer_cuda_surfaces(AVCodecContext* context, const AVPixelFormat* formats) {
  for (const AVPixelFormat* format = formats; *format != AV_PIX_FMT_NONE; ++format) {
    if (*format == AV_PIX_FMT_CUDA) {
      return *format;
    }
  }
  return avcodec_default_get_format(context, formats);
}

// Attaches a CUDA device to a video decoder when the codec can use it; the reason when not.
std::string attach_cuda_device(AVCodecContext& context, const AVCodec& codec, int device_index) {
  bool supported = false;
  for (int i = 0;; ++i) {
    const AVCodecHWConfig* config = avcodec_get_hw_config(&codec, i);
    if (config == nullptr) {
      break;
    }
    if (config->device_type == AV_HWDEVICE_TYPE_CUDA &&
        (config->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) != 0) {
      supported = true;
      break;
    }
  }
  if (!supported) {
    return fmt::format("{} has no CUDA hwaccel in this FFmpeg", codec.name);
  }
  AVBufferRef* device = nullptr;
  // AV_CUDA_USE_PRIMARY_CONTEXT (hwcontext_cuda.h, which needs cuda.h): FFmpeg works in the
  // device's primary context, the one the CUDA runtime (our kernels, torch) uses, so its surfaces
  // can be read by our kernels.
  constexpr int use_primary_context = 1 << 0;
  const std::string device_name = std::to_string(device_index);
  if (int ret =
          av_hwdevice_ctx_create(&device, AV_HWDEVICE_TYPE_CUDA, device_name.c_str(), nullptr, use_primary_context);
      ret < 0) {
    return media_error_from_av(ret, "cannot open a CUDA device").message;
  }
  context.hw_device_ctx = device;  // the context owns the reference now
  context.get_format = prefer_cuda_surfaces;
  return {};
}

}  // namespace

tl::expected<AvCodecContextPtr, MediaError> open_decoder(const AVStream& stream, const StreamDecoderOptions& options) {
  const AVCodec* codec = avcodec_find_decoder(stream.codecpar->codec_id);
  if (codec == nullptr) {
    return tl::unexpected(media_error(
        fmt::format("no decoder for stream {} ({})", stream.index, avcodec_get_name(stream.codecpar->codec_id))));
  }
  AvCodecContextPtr context{avcodec_alloc_context3(codec)};
  if (!context) {
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate a decoder"));
  }
  if (int ret = avcodec_parameters_to_context(context.get(), stream.codecpar); ret < 0) {
    return tl::unexpected(media_error_from_av(ret, "cannot configure the decoder"));
  }
  context->pkt_timebase = stream.time_base;
  if (stream.codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
    context->thread_count = options.thread_count;
    // Live video: hand out each picture as soon as it is complete. libavcodec turns frame
    // threading off under LOW_DELAY, so asking for frame threads means giving the flag up.
    if (options.threading == DecoderThreading::slice) {
      context->flags |= AV_CODEC_FLAG_LOW_DELAY;
    }
    if (options.cuda_decode) {
      if (std::string why_not = attach_cuda_device(*context, *codec, options.cuda_device_index); why_not.empty()) {
        spdlog::info("video decoder: {} on the GPU (NVDEC through FFmpeg's CUDA hwaccel)", codec->name);
      } else {
        spdlog::warn("GPU decoding unavailable ({}): video decoder: {} on the CPU", why_not, codec->name);
      }
    }
    switch (options.threading) {
      case DecoderThreading::slice: context->thread_type = FF_THREAD_SLICE; break;
      case DecoderThreading::frame: context->thread_type = FF_THREAD_FRAME; break;
      case DecoderThreading::frame_and_slice: context->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE; break;
    }
  }
  if (int ret = avcodec_open2(context.get(), codec, nullptr); ret < 0) {
    return tl::unexpected(media_error_from_av(ret, fmt::format("cannot open the {} decoder", codec->name)));
  }
  return context;
}

bool nv12_surface(const AVFrame& frame) {
  return frame.hw_frames_ctx != nullptr &&
         reinterpret_cast<const AVHWFramesContext*>(frame.hw_frames_ctx->data)->sw_format == AV_PIX_FMT_NV12;
}

}  // namespace trickle::media
