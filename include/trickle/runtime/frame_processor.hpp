#pragma once

// What a C++ project implements to run its model on a stream: upstream PyTrickle's
// FrameProcessor, synchronous. The engine calls every method of one processor from one thread
// at a time (its processing thread, or the server's start-up thread for load_model), so an
// implementation needs no locking of its own.

#include <optional>
#include <vector>

#include "trickle/util/python_json.hpp"

#include "trickle/media/decoded_frame.hpp"

namespace trickle::runtime {

// A decoded frame as the processor sees it: by default [1, H, W, 3] float32 RGB in [0, 1].
using VideoFrame = media::DecodedVideoFrame;
using AudioFrame = media::DecodedAudioFrame;

class FrameProcessor {
 public:
  virtual ~FrameProcessor() = default;

  // Once, before the server reports IDLE; an exception puts the server in ERROR for good.
  virtual void load_model(const util::Json& /*kwargs*/) {}

  // The frame to publish, or nullopt for none (the loading overlay decides what is shown then).
  // The output tensor may have any layout the encoder accepts: [1,H,W,C] or [H,W,C], C in 1, 3, 4,
  // float in [0, 1] or uint8; keeping the input's pts and time base keeps A/V sync. An exception
  // drops this frame and the stream goes on.
  virtual std::optional<VideoFrame> process_video(VideoFrame frame) = 0;

  // The audio to publish for this frame (empty: none). Default: pass it through.
  virtual std::vector<AudioFrame> process_audio(AudioFrame frame) { return {std::move(frame)}; }

  // /stream/params bodies and control-channel messages, whole.
  virtual void update_params(const util::Json& /*params*/) {}

  // Around each stream: the start request's `params` object (or {}), and the end.
  virtual void on_stream_start(const util::Json& /*params*/) {}
  virtual void on_stream_stop() {}
};

}  // namespace trickle::runtime

// Also in trickle::, the names a worker's author writes (docs/architecture.md, "Namespaces").
namespace trickle {
using runtime::AudioFrame;
using runtime::FrameProcessor;
using runtime::VideoFrame;
}  // namespace trickle
