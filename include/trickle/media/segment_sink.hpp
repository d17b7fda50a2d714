#pragma once

// Where a SegmentMuxer's output goes: for `trickle publish`, one trickle POST per segment, with
// the bytes streamed into the request body while the segment is still being produced.

#include <cstdint>
#include <span>

namespace trickle::media {

class SegmentSink {
 public:
  virtual ~SegmentSink() = default;

  // A new segment starts; indices count up from 0 with no gaps.
  virtual void on_segment_begin(int64_t index) = 0;
  // The next bytes of the current segment, in order, as soon as the muxer produces them. The
  // span is valid only during the call.
  virtual void on_segment_data(std::span<const uint8_t> bytes) = 0;
  // The current segment is complete: every byte of it has been passed to on_segment_data.
  virtual void on_segment_end(int64_t index) = 0;
};

}  // namespace trickle::media
