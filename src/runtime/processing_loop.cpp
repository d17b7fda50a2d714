#include "processing_loop.hpp"

#include <spdlog/spdlog.h>

#include "trickle/util/text.hpp"

namespace trickle::runtime {

using Direction = FpsMeter::Direction;

ProcessingLoop::ProcessingLoop(std::shared_ptr<FrameProcessor> processor, const StreamPipelineOptions& options,
                               StreamMeters& meters)
    : processor_(std::move(processor)),
      options_(options),
      meters_(meters),
      skipper_(options.frame_skip, [this] { return meters_.fps.fps(Direction::ingress_video); }),
      overlay_(options.overlay) {}

void ProcessingLoop::set_manual_loading(bool active) {
  std::lock_guard lock(overlay_mutex_);
  overlay_.set_manual_loading(active);
}

void ProcessingLoop::run(ProcessorInbox& inbox, OutputQueue* output) {
  try {
    processor_->on_stream_start(options_.start_params);
  } catch (const std::exception& e) {
    spdlog::error("on_stream_start failed: {}", e.what());
  }
  std::int64_t failures = 0;
  while (auto item = inbox.pop()) {
    if (auto* update = std::get_if<ParamsUpdate>(&*item)) {
      std::exception_ptr error;
      try {
        // A null update only carries work for this thread in `done` (set_target_fps).
        if (!update->params.is_null()) processor_->update_params(update->params);
      } catch (...) {
        error = std::current_exception();
        spdlog::error("update_params failed: {}", util::exception_message(error));
      }
      if (update->done) update->done(error);
    } else if (auto* frame = std::get_if<VideoFrame>(&*item)) {
      process(*frame, output, failures);
    } else if (auto* audio = std::get_if<AudioFrame>(&*item)) {
      process(*audio, output, failures);
    }
  }
  try {
    processor_->on_stream_stop();
  } catch (const std::exception& e) {
    spdlog::error("on_stream_stop failed: {}", e.what());
  }
  if (output) output->close();
}

void ProcessingLoop::process(VideoFrame& frame, OutputQueue* output, std::int64_t& failures) {
  if (!skipper_.should_process()) {
    ++meters_.video_skipped;
    return;
  }
  const auto started = std::chrono::steady_clock::now();
  std::optional<VideoFrame> result;
  bool skip_processing;
  {
    std::lock_guard lock(overlay_mutex_);
    skip_processing = overlay_.should_skip_processing();
  }
  if (!skip_processing) {
    try {
      result = processor_->process_video(frame);
    } catch (const std::exception& e) {
      ++meters_.video_processor_errors;
      if (worth_logging(++failures)) spdlog::error("process_video failed (frame dropped): {}", e.what());
      return;
    }
  }
  meters_.process_latency.record_since(started);
  std::optional<VideoFrame> out;
  {
    std::lock_guard lock(overlay_mutex_);
    out = overlay_.update_and_apply(frame, std::move(result));
  }
  if (!out) {
    ++meters_.video_withheld;
    return;
  }
  if (out->demuxed == std::chrono::steady_clock::time_point{}) out->demuxed = frame.demuxed;
  ++meters_.video_processed;
  meters_.fps.record(Direction::egress_video);
  // Waiting here when the encoder is behind makes the inbox fill, and the frame skipper trims
  // there, before the processor spends time on frames that would be dropped anyway.
  if (output) output->push_wait(OutputItem{std::move(*out)});
}

void ProcessingLoop::process(AudioFrame& frame, OutputQueue* output, std::int64_t& failures) {
  std::vector<AudioFrame> outs;
  try {
    outs = processor_->process_audio(std::move(frame));
  } catch (const std::exception& e) {
    ++meters_.audio_processor_errors;
    if (worth_logging(++failures)) spdlog::error("process_audio failed (frame dropped): {}", e.what());
    return;
  }
  for (auto& out : outs) {
    meters_.fps.record(Direction::egress_audio);
    if (output) output->push_wait(OutputItem{std::move(out)});
  }
}

}  // namespace trickle::runtime
