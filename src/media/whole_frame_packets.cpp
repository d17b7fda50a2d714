#include "trickle/media/whole_frame_packets.hpp"

#include <cstring>

namespace trickle::media {

namespace {

bool reliable_pes_framing(AVCodecID codec) { return codec == AV_CODEC_ID_H264 || codec == AV_CODEC_ID_HEVC; }

// Decode order of a packet, the decode time where there is one.
std::int64_t order_of(const AVPacket& packet) { return packet.dts != AV_NOPTS_VALUE ? packet.dts : packet.pts; }

}  // namespace

WholeFramePackets::WholeFramePackets(AVFormatContext& context, AVStream& video, AVCodecContext& decoder) {
  if (context.iformat == nullptr || std::strcmp(context.iformat->name, "mpegts") != 0 ||
      !reliable_pes_framing(video.codecpar->codec_id)) {
    return;
  }
  AVCodecParserContext* parser = av_stream_get_parser(&video);
  if (parser == nullptr) {
    return;
  }
  // An empty buffer flushes the parser: it returns what it holds as a frame, with that frame's
  // timestamps left in the parser context (as libavformat reads them after each call).
  std::uint8_t* data = nullptr;
  int size = 0;
  av_parser_parse2(parser, &decoder, &data, &size, nullptr, 0, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
  if (size > 0) {
    AvPacketPtr packet = make_av_packet();
    if (!packet || av_new_packet(packet.get(), size) < 0) {
      // Out of memory: keep the parser as it is rather than lose the frame.
      return;
    }
    std::memcpy(packet->data, data, static_cast<std::size_t>(size));
    packet->pts = parser->pts;
    packet->dts = parser->dts;
    packet->stream_index = video.index;
    if (parser->key_frame == 1) {
      packet->flags |= AV_PKT_FLAG_KEY;
    }
    held_ = std::move(packet);
  }
  parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
  engaged_ = true;
}

AvPacketPtr WholeFramePackets::take_if_before(const AVPacket& next) {
  if (!held_) {
    return nullptr;
  }
  // Without timestamps there is no telling the probed packets from new ones; such a frame is
  // never delivered anyway (frames without pts are skipped), so its place does not matter.
  const std::int64_t held_order = order_of(*held_);
  const std::int64_t next_order = order_of(next);
  if (held_order != AV_NOPTS_VALUE && next_order != AV_NOPTS_VALUE && next_order <= held_order) {
    return nullptr;
  }
  return std::move(held_);
}

AvPacketPtr WholeFramePackets::take() { return std::move(held_); }

}  // namespace trickle::media
