#pragma once
// A trickle channel on the relay: the ring of the last five segments and the sequence rules of
// docs/protocol.md (nextWrite, -1/-2, the pre-created next segment, 470 for everything else).

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "trickle/protocol/segment.hpp"

namespace trickle::protocol {

class Channel {
 public:
  static constexpr int ring_size = 5;  // go-livepeer's maxSegmentsPerStream

  Channel(net::Executor executor, std::string name, std::string mime_type);

  const std::string& name() const { return name_; }
  const std::string& mime_type() const { return mime_type_; }
  void set_mime_type_if_unset(std::string_view mime);

  // One past the last segment that received its first byte (or was ended empty).
  std::int64_t next_write() const { return next_write_; }
  bool closed() const { return closed_; }
  net::Clock::time_point last_activity() const { return last_activity_; }

  // The segment a POST to `seq` (already resolved from -1) writes into: the pre-created one a
  // reader is waiting on, or a fresh one that replaces (and closes) whatever held its ring slot.
  // With `reset` every other segment is closed and the sequence restarts at `seq`.
  std::shared_ptr<Segment> open_for_write(std::int64_t seq, bool reset);

  // The first byte of `seq` arrived, or its POST ended empty: readers may move past it.
  void mark_written(std::int64_t seq);

  // Resolves -1/-2 and finds the segment a GET reads; nullptr means "not available" (470).
  struct ReadTarget {
    std::shared_ptr<Segment> segment;
    std::int64_t seq;
  };
  ReadTarget open_for_read(std::int64_t requested);

  // The segment the ring holds for `seq` (data, or pre-created for a waiting reader), else null.
  std::shared_ptr<Segment> find_segment(std::int64_t seq) const {
    if (seq < 0) return nullptr;
    const auto& held = ring_[static_cast<std::size_t>(seq % ring_size)];
    return held && held->seq() == seq ? held : nullptr;
  }

  // Closes one segment; false when the ring does not hold it.
  bool close_segment(std::int64_t seq);
  // Closes the channel and every segment: readers and pre-connected writers are released.
  void close();

 private:
  std::shared_ptr<Segment>& slot(std::int64_t seq) { return ring_[static_cast<std::size_t>(seq % ring_size)]; }

  net::Executor executor_;
  std::string name_;
  std::string mime_type_;
  std::array<std::shared_ptr<Segment>, ring_size> ring_;
  std::int64_t next_write_ = 0;
  bool closed_ = false;
  net::Clock::time_point last_activity_ = net::Clock::now();
};

}  // namespace trickle::protocol
