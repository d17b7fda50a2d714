#pragma once

// Muxes compressed packets into MPEG-TS and cuts a new, self-contained segment (own PAT/PMT,
// starting with a key frame) at each key frame of the reference video stream: what go-livepeer's
// trickle publisher gets from ffmpeg's `segment` muxer. Used after the demuxer by `trickle
// publish` (stream copy) and after the encoder by the pipeline.

#include <cstdint>
#include <memory>
#include <span>

#include <tl/expected.hpp>

#include "trickle/media/av_ptr.hpp"
#include "trickle/media/media_error.hpp"
#include "trickle/media/segment_sink.hpp"

namespace trickle::media {

class SegmentMuxer {
 public:
  struct InputStream {
    const AVCodecParameters* codec_parameters = nullptr;
    // The time base of the timestamps of packets later passed to write() for this stream.
    AVRational time_base{0, 1};
  };

  // Without a video stream there are no key frames to cut at, so segments are cut on the first
  // reference-audio packet at least this long after the segment's first one.
  static constexpr double audio_only_segment_seconds = 2.0;

  // Only video and audio streams are carried; packets of the others are dropped (and counted).
  // The codec parameters are copied, so the inputs need not outlive the muxer. The sink must.
  // Fails when no input stream can be carried.
  static tl::expected<SegmentMuxer, MediaError> create(std::span<const InputStream> inputs, SegmentSink& sink);
  // Every stream of a demuxed input, e.g. PacketReader::format_context().
  static tl::expected<SegmentMuxer, MediaError> create(const AVFormatContext& input, SegmentSink& sink);

  // A moved-from muxer may only be destroyed or assigned to.
  SegmentMuxer(SegmentMuxer&&) noexcept;
  SegmentMuxer& operator=(SegmentMuxer&&) noexcept;
  // Without finish(), the segment in progress is abandoned: the sink never sees its end.
  ~SegmentMuxer();

  // Muxes one packet (left untouched; the muxer takes its own reference) belonging to input
  // stream input_stream_index. Packets must come in decode order per stream, as a demuxer or an
  // encoder gives them; they are written as given (no interleaving queue) so bytes reach the sink
  // without delay. Timestamps keep the input's timeline (not reset per segment), so segment k
  // starts at the pts of the k-th key frame; only an input whose first packet has a negative
  // time is shifted, once and as a whole, to start at 0, as MPEG-TS has no negative times.
  // Packets the muxer cannot use (unknown or uncarried stream, no timestamp, dts not increasing
  // within the segment) are dropped and counted rather than failing the whole stream.
  // An exception thrown by the sink propagates out of here; after it, or after an error value,
  // the muxer is unusable.
  tl::expected<void, MediaError> write(const AVPacket& packet, int input_stream_index);

  // Completes the last segment. Later calls do nothing; write() after finish() is an error.
  tl::expected<void, MediaError> finish();

  // Segments begun so far.
  int64_t segment_count() const;
  int64_t dropped_packet_count() const;

 private:
  struct Impl;
  explicit SegmentMuxer(std::unique_ptr<Impl> impl);

  // Behind a pointer so the address libav's write callback holds survives moves of the muxer.
  std::unique_ptr<Impl> impl_;
};

}  // namespace trickle::media
