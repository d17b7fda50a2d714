#pragma once

// Demuxes a file (or any URL libavformat can read) into compressed packets, in file order.
// It is the input side of `trickle publish`: packets go straight to a SegmentMuxer, untouched.

#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "trickle/media/av_ptr.hpp"
#include "trickle/media/media_error.hpp"

namespace trickle::media {

class PacketReader {
 public:
  // Opens the input and probes its streams, so codec parameters are filled in before the first
  // read_packet() (a muxer needs them up front). Fails on missing, empty or unrecognised input.
  static tl::expected<PacketReader, MediaError> open(const std::string& url);

  PacketReader(PacketReader&&) noexcept = default;
  PacketReader& operator=(PacketReader&&) noexcept = default;

  const AVFormatContext& format_context() const { return *context_; }
  int stream_count() const;
  // Null when index is out of range. A live MPEG-TS may add streams while it is read, so
  // stream_count() can grow between reads.
  const AVStream* stream(int index) const;

  // The next packet in file order; an empty optional once the input is exhausted (and on every
  // call after that). packet->stream_index says which stream it belongs to; its timestamps are in
  // that stream's time_base.
  tl::expected<std::optional<AvPacketPtr>, MediaError> read_packet();

 private:
  explicit PacketReader(AvInputContextPtr context) : context_(std::move(context)) {}

  AvInputContextPtr context_;
  bool at_end_ = false;
};

// Presentation time of a packet in seconds (its dts when it has no pts); nullopt when the packet
// carries no timestamp at all.
std::optional<double> packet_time_seconds(const AVPacket& packet, AVRational time_base);

// Decode time in seconds (its pts when it has no dts). Unlike pts, dts never goes backwards in
// file order, which makes it the clock to pace real-time sending by.
std::optional<double> packet_decode_time_seconds(const AVPacket& packet, AVRational time_base);

}  // namespace trickle::media
