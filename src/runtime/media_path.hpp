#pragma once
// One stream's media, both ways: trickle GET → bytes → demux/decode (its own thread) → the
// processor inbox; and the output queue → encode (its own thread) → one MPEG-TS segment per GOP
// → trickle POST. Whatever processes frames (the C++ processing loop, or Python through
// StreamPipeline's external processing) sits between inbox() and output().
//
// The owner (StreamPipeline) runs the two threads' bodies and the two io coroutines, counting
// them, and keeps this object alive until all four have ended.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "pipeline_support.hpp"
#include "stream_meters.hpp"
#include "trickle/media/byte_stream.hpp"
#include "trickle/media/stream_decoder.hpp"
#include "trickle/media/stream_encoder.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/protocol/publisher.hpp"
#include "trickle/protocol/subscriber.hpp"
#include "trickle/runtime/processor_inbox.hpp"
#include "trickle/runtime/segment_bridge.hpp"
#include "trickle/runtime/stream_pipeline.hpp"

namespace trickle::runtime {

class MediaPath {
 public:
  struct Hooks {
    std::function<void()> input_ready;                 // any thread: the inbox changed
    std::function<void()> wake_io;                     // any thread: io-thread waiters look again
    std::function<void(util::Json event)> emit_event;  // the first-segment events
    ReportFailure report;
  };

  MediaPath(net::Executor executor, const StreamPipelineOptions& options, StreamMeters& meters,
            net::AsyncSignal& io_signal, ProcessorInbox::VideoTrimRule trim_rule, Hooks hooks);

  bool has_input() const { return !options_.subscribe_url.empty(); }
  bool has_output() const { return !options_.publish_url.empty(); }

  ProcessorInbox& inbox() { return inbox_; }
  OutputQueue& output() { return output_; }
  // The decoder's frame-rate limit, changed by parameter updates (any thread).
  void set_max_framerate(int fps) { max_framerate_ = fps; }

  // Thread bodies.
  void decode();
  void encode();
  // io-thread coroutines.
  net::awaitable<void> ingest();
  void on_input_error(std::string_view kind, std::string_view message);
  net::awaitable<void> publish();

  // Any thread: unblocks both threads; frames not yet encoded are dropped, encoded ones still go.
  void stop_threads();
  // Teardown only (nothing will publish any more): an encoder waiting for the network stops waiting.
  void abandon_output() { bridge_.abort(); }
  // io thread: drops the input connections (the GET waiting and the segment being read).
  void close_input();

  // External processing: results are new tensors, so the demux time that latency accounting
  // starts from is found again by pts.
  std::chrono::steady_clock::time_point demuxed_of(std::int64_t pts);

  util::Json decoder_stats() const;
  util::Json encoder_stats() const;

 private:
  media::StreamDecoderOptions decoder_options();
  media::StreamDecoderCallbacks decoder_callbacks();
  void remember_demuxed(std::int64_t pts, std::chrono::steady_clock::time_point demuxed);
  std::unique_ptr<media::StreamEncoder> make_encoder();

  net::Executor executor_;
  const StreamPipelineOptions& options_;
  StreamMeters& meters_;
  net::AsyncSignal& io_signal_;
  Hooks hooks_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> max_framerate_;

  ProcessorInbox inbox_;
  OutputQueue output_;
  media::ByteStream input_bytes_{4 * 1024 * 1024};
  media::StreamDecoder decoder_;
  SegmentBridge bridge_;
  std::mutex metadata_mutex_;
  std::optional<media::StreamMetadata> metadata_;
  mutable std::mutex encoder_stats_mutex_;
  media::StreamEncoderStats encoder_stats_;

  // io thread only
  std::unique_ptr<protocol::TrickleSubscriber> subscriber_;
  std::unique_ptr<protocol::TricklePublisher> publisher_;
  protocol::SubscribedSegment* current_segment_ = nullptr;

  std::mutex demuxed_mutex_;
  std::array<std::pair<std::int64_t, std::chrono::steady_clock::time_point>, 64> demuxed_by_pts_{};
  std::size_t demuxed_next_ = 0;
};

}  // namespace trickle::runtime
