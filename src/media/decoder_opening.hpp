#pragma once

// Opening one stream's decoder the way StreamDecoder wants it: live-video threading, and NVDEC
// through FFmpeg's CUDA hwaccel when asked and available (falling back to the CPU, logged).
// Private to src/media.

#include <tl/expected.hpp>

#include "trickle/media/av_ptr.hpp"
#include "trickle/media/media_error.hpp"
#include "trickle/media/stream_decoder.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

namespace trickle::media {

tl::expected<AvCodecContextPtr, MediaError> open_decoder(const AVStream& stream, const StreamDecoderOptions& options);

// A decoded picture that lives in CUDA memory as NV12 (what NVDEC hands out for 8-bit video).
bool nv12_surface(const AVFrame& frame);

}  // namespace trickle::media
