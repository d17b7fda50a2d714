#pragma once

// Upstream PyTrickle's decode_av in C++: demuxes an MPEG-TS byte stream (or a file), decodes the
// first video and first audio stream, and hands out frames exactly as upstream would: video
// cover-scaled, centre-cropped and rate-limited on media time, audio untouched.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include <tl/expected.hpp>

#include "trickle/media/byte_stream.hpp"
#include "trickle/media/decoded_frame.hpp"
#include "trickle/media/media_error.hpp"
#include "trickle/media/media_time_limiter.hpp"
#include "trickle/media/stream_metadata.hpp"
#include "trickle/media/video_frame_converter.hpp"

namespace trickle::media {

enum class DecoderThreading { slice, frame, frame_and_slice };

struct StreamDecoderOptions {
  VideoTensorFormat video;  // 512x512, float32, batch dim: upstream's defaults
  // Re-read once per video packet, so the caller may change the limit while decoding runs.
  // Values <= 0 mean upstream's fallback interval of 0.033 s. Empty: 24 fps.
  std::function<int()> max_framerate;
  // Decoder threads (0: libav picks). Slice threading (with AV_CODEC_FLAG_LOW_DELAY) adds no
  // delay; frame threading (which LOW_DELAY would disable, so it is left off then) holds back
  // thread_count - 1 frames: measured on a 720p30 H.264 stream fed in real time, 2.7-3.3 ms
  // mean send-to-frame latency with slice threads vs 33 ms (2 frame threads) and 66 ms (3).
  int thread_count = 0;
  DecoderThreading threading = DecoderThreading::slice;
  // Upstream skips packets without dts, so the end-of-stream flush never reaches its decoders
  // and the frames they still hold are lost (with slice threading and no B-frames: none).
  // False keeps upstream's output exactly; true drains them (they still pass the fps limit).
  bool drain_at_end = false;
  // How much of a live byte stream the demuxer may read to learn its streams before the first
  // frame comes out (libav's default, which upstream keeps, is up to 5 s: on a 720p30 stream fed
  // in real time the first frame came out 0.8 s after its bytes). Codec parameters come from the
  // first key frame anyway; <= 0 keeps libav's default. Files (run(url)) always use the default.
  double probe_seconds = 0.2;
  // MPEG-TS input, H.264/HEVC: decode each PES as one whole frame instead of waiting for the
  // parser to see the next frame start (see whole_frame_packets.hpp). One frame less of latency;
  // false restores libav's (and upstream's) framing for inputs that split frames across PES.
  bool whole_frame_pes = true;
  // Decode video with NVDEC through FFmpeg's CUDA hwaccel where a CUDA device opens and the codec
  // has it; otherwise on the CPU, with a log line saying why. Pictures come back to host memory
  // before the tensor conversion, so the frames handed out are the same either way.
  bool cuda_decode = false;
  int cuda_device_index = 0;
  // With cuda_decode: makes the tensor of a picture that is on the GPU (NV12), on the GPU (the
  // runtime sets gpu::CudaFrameConverter here for CUDA frames). Unset: pictures are copied to the
  // host and converted there.
  std::function<tl::expected<tensor::Tensor, MediaError>(const AVFrame&)> gpu_picture;
  std::size_t avio_buffer_bytes = 32 * 1024;
  std::size_t tensor_pool_idle_buffers = 8;
};

struct StreamDecoderCallbacks {
  std::function<void(const StreamMetadata&)> on_metadata;  // once, before the first frame
  std::function<void(DecodedVideoFrame)> on_video;
  std::function<void(DecodedAudioFrame)> on_audio;
};

struct StreamDecoderStats {
  std::int64_t video_packets = 0;
  std::int64_t audio_packets = 0;
  std::int64_t packets_without_dts = 0;  // skipped, as upstream does
  std::int64_t decode_errors = 0;        // packets the decoder refused (skipped, not fatal)
  std::int64_t video_frames_decoded = 0;
  std::int64_t video_frames_dropped = 0;  // by the frame-rate limit
  std::int64_t video_frames_delivered = 0;
  std::int64_t audio_frames_delivered = 0;
  bool video_decoded_on_gpu = false;  // cuda_decode asked for and NVDEC opened
};

class StreamDecoder {
 public:
  StreamDecoder(StreamDecoderOptions options, StreamDecoderCallbacks callbacks);

  StreamDecoder(const StreamDecoder&) = delete;
  StreamDecoder& operator=(const StreamDecoder&) = delete;

  // Decodes until the stream ends (close(): success) or fails (abort(), garbage, no video and no
  // audio stream: an error, and then on_metadata is never called). Blocks the calling thread.
  tl::expected<void, MediaError> run(ByteStream& input);
  // The same over a file or any URL libavformat opens (tests, tools).
  tl::expected<void, MediaError> run(const std::string& url);

  // From any thread: run() returns with an error soon after, also when waiting for bytes (the
  // ByteStream being decoded is aborted, which releases a blocked producer too). Sticky: a run()
  // after it fails at once.
  void request_stop();

  // Counters of the last (or current) run; read them after run() returned.
  const StreamDecoderStats& stats() const { return stats_; }

 private:
  tl::expected<void, MediaError> decode(AVFormatContext& context);

  StreamDecoderOptions options_;
  StreamDecoderCallbacks callbacks_;
  std::atomic<bool> stop_requested_{false};
  std::mutex input_mutex_;
  ByteStream* input_ = nullptr;  // the stream run() reads, for request_stop()
  StreamDecoderStats stats_;
};

}  // namespace trickle::media
