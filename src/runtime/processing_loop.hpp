#pragma once
// The C++ processor's loop, on the stream's processing thread: takes what the inbox holds
// (parameter updates first, then frames in arrival order), runs the FrameProcessor on it with
// upstream's frame skipping and loading overlay, and hands the results to the output queue.
// The Python package is the other consumer of the same inbox and output queue (StreamPipeline's
// external processing); this loop is not started then.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "pipeline_support.hpp"
#include "stream_meters.hpp"
#include "trickle/runtime/frame_skipper.hpp"
#include "trickle/runtime/loading_overlay.hpp"
#include "trickle/runtime/processor_inbox.hpp"
#include "trickle/runtime/stream_pipeline.hpp"

namespace trickle::runtime {

class ProcessingLoop {
 public:
  ProcessingLoop(std::shared_ptr<FrameProcessor> processor, const StreamPipelineOptions& options, StreamMeters& meters);

  // The thread body: until the inbox is closed and empty (or aborted). `output` is null when
  // the stream publishes nothing.
  void run(ProcessorInbox& inbox, OutputQueue* output);

  // The skipper's backlog rule, for the inbox (any thread).
  std::size_t frames_to_trim(std::size_t queued) { return skipper_.frames_to_trim(queued); }
  // Any thread.
  void set_manual_loading(bool active);
  // The processing thread only (StreamPipeline sends it there through the inbox).
  void set_target_fps(std::optional<double> target_fps) { skipper_.set_target_fps(target_fps); }

 private:
  void process(VideoFrame& frame, OutputQueue* output, std::int64_t& failures);
  void process(AudioFrame& frame, OutputQueue* output, std::int64_t& failures);

  std::shared_ptr<FrameProcessor> processor_;
  const StreamPipelineOptions& options_;
  StreamMeters& meters_;
  AdaptiveFrameSkipper skipper_;
  std::mutex overlay_mutex_;
  OverlayController overlay_;
};

}  // namespace trickle::runtime
