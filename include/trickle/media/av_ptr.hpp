#pragma once

// Owning smart pointers for FFmpeg objects, so every libav resource in the media layer is freed
// on every path (early returns, errors, exceptions from sinks) without hand-written cleanup.

#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
}

namespace trickle::media {

struct AvPacketDeleter {
  void operator()(AVPacket* packet) const noexcept { av_packet_free(&packet); }
};
using AvPacketPtr = std::unique_ptr<AVPacket, AvPacketDeleter>;

// Null only when out of memory.
inline AvPacketPtr make_av_packet() { return AvPacketPtr{av_packet_alloc()}; }

struct AvFrameDeleter {
  void operator()(AVFrame* frame) const noexcept { av_frame_free(&frame); }
};
using AvFramePtr = std::unique_ptr<AVFrame, AvFrameDeleter>;

inline AvFramePtr make_av_frame() { return AvFramePtr{av_frame_alloc()}; }

struct AvCodecContextDeleter {
  void operator()(AVCodecContext* context) const noexcept { avcodec_free_context(&context); }
};
using AvCodecContextPtr = std::unique_ptr<AVCodecContext, AvCodecContextDeleter>;

struct AvCodecParametersDeleter {
  void operator()(AVCodecParameters* parameters) const noexcept { avcodec_parameters_free(&parameters); }
};
using AvCodecParametersPtr = std::unique_ptr<AVCodecParameters, AvCodecParametersDeleter>;

// Demuxer contexts must be closed (not merely freed) so the input's AVIOContext goes too.
struct AvInputContextDeleter {
  void operator()(AVFormatContext* context) const noexcept { avformat_close_input(&context); }
};
using AvInputContextPtr = std::unique_ptr<AVFormatContext, AvInputContextDeleter>;

// Muxer contexts never own their AVIOContext (we always give them a custom one), so freeing the
// context is enough; the AVIOContext has its own owner below.
struct AvOutputContextDeleter {
  void operator()(AVFormatContext* context) const noexcept { avformat_free_context(context); }
};
using AvOutputContextPtr = std::unique_ptr<AVFormatContext, AvOutputContextDeleter>;

// A custom AVIOContext's buffer may be reallocated by libavformat, so it is freed through the
// context's current pointer rather than the one originally handed to avio_alloc_context.
struct AvIoContextDeleter {
  void operator()(AVIOContext* context) const noexcept {
    if (context != nullptr) {
      av_freep(&context->buffer);
    }
    avio_context_free(&context);
  }
};
using AvIoContextPtr = std::unique_ptr<AVIOContext, AvIoContextDeleter>;

}  // namespace trickle::media
