#pragma once

// Upstream PyTrickle's encode_av in C++: processed video tensors (and decoded audio frames) are
// encoded to H.264 (+ Opus) and muxed into MPEG-TS, one self-contained segment per GOP, the bytes
// streamed to a SegmentSink while each segment is still being produced. Timestamps follow the
// input timeline, in 1/90000. Where upstream stops or silently drops, this reports errors as
// values and drops with a counted reason instead (see the fixes named in the source).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "trickle/media/decoded_frame.hpp"
#include "trickle/media/media_error.hpp"
#include "trickle/media/segment_sink.hpp"
#include "trickle/tensor/tensor.hpp"

extern "C" {
#include <libavutil/rational.h>
}

namespace trickle::media {

struct StreamEncoderOptions {
  std::string video_codec = "libx264";
  // Empty: video only. Upstream's pipeline passes libopus (its own default, libfdk_aac, is
  // absent from common builds, docs/compatibility.md Q35); output audio is always 48 kHz mono.
  std::string audio_codec = "libopus";
  // Upstream decides from the input metadata whether an audio stream exists; the muxer needs its
  // streams before the first packet, so a caller whose input has no audio says so here.
  bool with_audio = true;
  // Output size; 0 for both: that of the first valid video frame (upstream's
  // detect_out_resolution). Odd sizes are made even (x264's yuv420p needs them).
  int width = 0;
  int height = 0;
  // A key frame (and so a new segment) is forced when this much media time has passed since the
  // last forced one.
  double gop_seconds = 2.0;
  // Try NVIDIA's hardware encoder first (h264_nvenc with low-latency settings: no B-frames, zero
  // delay, IDR at every forced key frame); where it cannot open (no driver, no GPU, a build of
  // FFmpeg without it) encode with video_codec instead. The log says which encoder runs.
  bool prefer_nvenc = false;
  // Brings a CUDA tensor to host memory (the runtime sets gpu::copy_to_host in CUDA builds).
  // Unset, a CUDA tensor is refused as unreadable, like any other tensor the encoder cannot read.
  std::function<tl::expected<tensor::Tensor, MediaError>(const tensor::Tensor&)> to_host;
};

struct StreamEncoderStats {
  std::int64_t video_frames_in = 0;
  std::int64_t video_frames_encoded = 0;  // handed to the video encoder
  std::int64_t video_packets_out = 0;
  std::int64_t key_frames_forced = 0;
  std::int64_t video_frames_resized = 0;   // of another size than the stream's, scaled to it
  std::int64_t video_dropped_invalid = 0;  // tensors that are not a readable picture
  std::int64_t video_dropped_av_sync = 0;  // buffered audio was > 2 s ahead of them
  std::int64_t video_dropped_pts_not_increasing = 0;
  std::int64_t video_dropped_encode_error = 0;

  std::int64_t audio_frames_in = 0;
  std::int64_t audio_frames_encoded = 0;  // 20 ms Opus frames handed to the audio encoder
  std::int64_t audio_packets_out = 0;
  std::int64_t audio_dropped_invalid = 0;      // samples that do not match their format
  std::int64_t audio_dropped_no_stream = 0;    // no audio stream in the output
  std::int64_t audio_dropped_buffer_full = 0;  // > 100 frames waiting for the first video
  std::int64_t audio_dropped_too_old = 0;      // older than the first video frame - 2 s
  std::int64_t audio_dropped_av_sync = 0;      // first audio > 2 s away from the first video

  std::int64_t segments = 0;
};

// Not thread-safe: one thread (the pipeline's encode thread) makes all the calls.
class StreamEncoder {
 public:
  // Upstream's constants (AUDIO_BUFFER_LEN, AUDIO_BUFFER_SECS).
  static constexpr std::size_t audio_buffer_frames = 100;
  static constexpr double av_sync_seconds = 2.0;

  // The sink must outlive the encoder. Nothing is opened before the first valid video frame.
  StreamEncoder(StreamEncoderOptions options, SegmentSink& sink);
  ~StreamEncoder();
  StreamEncoder(const StreamEncoder&) = delete;
  StreamEncoder& operator=(const StreamEncoder&) = delete;

  // One processed frame, at pts in time_base (normally the decoded input frame's). An unusable
  // tensor is an error value and the stream goes on; so is a frame dropped for a counted reason
  // other than A/V sync. After a failure of the encoder or muxer itself, every call fails.
  tl::expected<void, MediaError> encode_video(const tensor::Tensor& tensor, std::int64_t pts, AVRational time_base);
  // One audio frame as the decoder hands it out (any rate, layout and sample format; resampled
  // to 48 kHz mono).
  tl::expected<void, MediaError> encode_audio(const DecodedAudioFrame& frame);

  // Drains both encoders and completes the last segment. Later calls do nothing. Without any
  // video frame there is no output at all (upstream: docs/compatibility.md Q25).
  tl::expected<void, MediaError> finish();

  const StreamEncoderStats& stats() const;
  // The output size, once the video stream exists; 0x0 before.
  int width() const;
  int height() const;
  // The video encoder that opened ("libx264", "h264_nvenc"); empty before the first frame.
  const std::string& video_encoder() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trickle::media
