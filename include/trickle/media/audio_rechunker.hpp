#pragma once

// The audio encoder's input side: decoded audio frames of any rate, layout and sample format,
// resampled to the encoder's format and cut into frames of exactly the encoder's frame size
// (Opus takes 20 ms, 960 samples at 48 kHz), which is what PyAV's encoder did for upstream.

#include <cstdint>
#include <memory>

#include <tl/expected.hpp>

#include "trickle/media/av_ptr.hpp"
#include "trickle/media/decoded_frame.hpp"
#include "trickle/media/media_error.hpp"

extern "C" {
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

namespace trickle::media {

class AudioRechunker {
 public:
  // Output: sample_rate, format and layout of the encoder; frames of frame_size samples with pts
  // in 1/sample_rate.
  AudioRechunker(int sample_rate, AVSampleFormat format, const AVChannelLayout& layout, int frame_size);
  ~AudioRechunker();
  AudioRechunker(const AudioRechunker&) = delete;
  AudioRechunker& operator=(const AudioRechunker&) = delete;

  // Resamples the frame into the queue. A frame whose samples do not match its format, layout
  // and count is an error and leaves the queue as it was. A change of input format mid-stream
  // re-creates the resampler (upstream's encoder crashed, docs/compatibility.md Q14).
  tl::expected<void, MediaError> push(const DecodedAudioFrame& frame);

  // The next full frame, or null when fewer than frame_size samples wait. With `flush`, the
  // remainder comes out as one shorter last frame.
  tl::expected<AvFramePtr, MediaError> pop(bool flush = false);

 private:
  struct Input {
    AVSampleFormat format = AV_SAMPLE_FMT_NONE;
    AVChannelLayout layout{};
    int sample_rate = 0;
  };
  tl::expected<void, MediaError> configure(const Input& input);

  int sample_rate_;
  AVSampleFormat format_;
  AVChannelLayout layout_{};
  int frame_size_;
  Input input_;
  SwrContext* resampler_ = nullptr;
  AVAudioFifo* fifo_ = nullptr;
  bool have_pts_ = false;
  std::int64_t fifo_start_pts_ = 0;  // of the oldest queued sample, in 1/sample_rate
};

}  // namespace trickle::media
