#pragma once

// Everything the processing thread consumes, in one place so one thread can wait on all of it:
// parameter updates (first, so a new setting applies to the very next frame), then video and
// audio frames in arrival order. Video is trimmed oldest-first by the frame skipper when the
// processor falls behind; both frame queues also have a hard cap. Every drop is counted.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <variant>

#include "trickle/util/python_json.hpp"

#include "trickle/runtime/frame_processor.hpp"

namespace trickle::runtime {

struct ParamsUpdate {
  util::Json params;
  // Called on the processing thread once applied (nullptr) or failed (the exception).
  std::function<void(std::exception_ptr)> done;
};

class ProcessorInbox {
 public:
  using Item = std::variant<VideoFrame, AudioFrame, ParamsUpdate>;
  // How many of the oldest `queued` video frames to drop before the next one is taken.
  using VideoTrimRule = std::function<std::size_t(std::size_t queued)>;

  ProcessorInbox(std::size_t video_capacity, std::size_t audio_capacity, VideoTrimRule trim_rule);

  void push_video(VideoFrame frame);
  void push_audio(AudioFrame frame);
  void push_params(ParamsUpdate update);  // accepted even after close(): answered when drained

  // Blocks; nullopt once closed and no frame is left (pending params are still handed out).
  std::optional<Item> pop();
  // Does not block: nullopt when nothing is queued; *ended tells whether that is for good.
  std::optional<Item> try_pop(bool* ended = nullptr);

  // End of input: what is queued is still processed.
  void close();
  // Stop: queued frames are forgotten (counted as dropped), params are still delivered.
  void abort();

  struct Counters {
    std::int64_t video_trimmed = 0;       // the frame skipper's backlog trim
    std::int64_t video_dropped_full = 0;  // hard cap reached
    std::int64_t audio_dropped_full = 0;
    std::int64_t dropped_at_stop = 0;
    std::size_t video_queued = 0, audio_queued = 0;
  };
  Counters counters() const;

 private:
  std::optional<Item> take_locked();
  template <typename T>
  struct Stamped {
    std::uint64_t order;
    T value;
  };

  const std::size_t video_capacity_, audio_capacity_;
  VideoTrimRule trim_rule_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Stamped<VideoFrame>> video_;
  std::deque<Stamped<AudioFrame>> audio_;
  std::deque<ParamsUpdate> params_;
  std::uint64_t next_order_ = 0;
  bool closed_ = false;
  Counters counters_;
};

}  // namespace trickle::runtime
