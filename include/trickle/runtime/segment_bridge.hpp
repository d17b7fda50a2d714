#pragma once

// Carries the encoder's segments from its thread to the io thread that POSTs them. The encoder
// calls the SegmentSink methods; the io side takes the events in order. Bytes waiting for the
// network are bounded: past `max_pending_bytes` the encoding thread waits (a slow relay slows
// the encoder, not memory), until the io side catches up or the bridge is aborted.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <variant>
#include <vector>

#include "trickle/media/segment_sink.hpp"

namespace trickle::runtime {

class SegmentBridge final : public media::SegmentSink {
 public:
  struct Begin {
    std::int64_t index;
  };
  struct Data {
    std::vector<std::uint8_t> bytes;
  };
  struct End {
    std::int64_t index;
  };
  using Event = std::variant<Begin, Data, End>;

  // `wake` is called (from the producing thread) whenever events become available or the bridge
  // finishes; it typically posts a notification to the io thread.
  SegmentBridge(std::size_t max_pending_bytes, std::function<void()> wake);

  void on_segment_begin(int64_t index) override;
  void on_segment_data(std::span<const uint8_t> bytes) override;
  void on_segment_end(int64_t index) override;

  // Producer: no more segments.
  void finish();
  // Either side: stop waiting and drop everything from now on.
  void abort();

  // Consumer: everything queued so far, in order, and whether the producer has finished.
  struct Batch {
    std::deque<Event> events;
    bool finished = false;
  };
  Batch take();

 private:
  void push(Event event, std::size_t bytes);

  const std::size_t max_pending_bytes_;
  std::function<void()> wake_;
  std::mutex mutex_;
  std::condition_variable drained_;
  std::deque<Event> events_;
  std::size_t pending_bytes_ = 0;
  bool finished_ = false;
  bool aborted_ = false;
};

}  // namespace trickle::runtime
