#pragma once

// MPEG-TS carries one video frame per PES packet (every muxer a live peer uses writes it so), and
// the demuxer hands a PES out as soon as it is complete. libavformat still runs the codec's
// parser over each PES to find where frames end, and the H.264 parser only knows a frame has
// ended once the next one starts: every frame waits for the next to arrive (33 ms at 30 fps, a
// whole burst gap when a publisher sends in bursts). Once the streams are probed we tell the
// parser that each PES is a whole frame. The parser is still holding the last probed frame at
// that moment, so it is taken back first and decoded in its place, between the probed packets
// libavformat has buffered and the first new one.

#include <cstdint>

#include "trickle/media/av_ptr.hpp"

namespace trickle::media {

class WholeFramePackets {
 public:
  // After avformat_find_stream_info. Switches the video stream's parser to whole frames when the
  // input is MPEG-TS and the codec is one whose PES framing is reliable (H.264, HEVC); otherwise
  // (or when the demuxer runs no parser on it) nothing changes and engaged() is false.
  WholeFramePackets(AVFormatContext& context, AVStream& video, AVCodecContext& decoder);

  bool engaged() const { return engaged_; }

  // The frame the parser was holding, if it goes before `next` (the next video packet to decode)
  // — that is, if `next` is newer; ownership passes to the caller. Null otherwise.
  AvPacketPtr take_if_before(const AVPacket& next);
  // The held frame at the end of the input, if it never found its place. Null otherwise.
  AvPacketPtr take();

 private:
  bool engaged_ = false;
  AvPacketPtr held_;
};

}  // namespace trickle::media
