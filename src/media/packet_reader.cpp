#include "trickle/media/packet_reader.hpp"

#include <fmt/format.h>

namespace trickle::media {

tl::expected<PacketReader, MediaError> PacketReader::open(const std::string& url) {
  AVFormatContext* raw = nullptr;
  // On failure avformat_open_input frees the context itself and leaves raw null.
  if (int ret = avformat_open_input(&raw, url.c_str(), nullptr, nullptr); ret < 0) {
    return tl::unexpected(media_error_from_av(ret, fmt::format("cannot open '{}'", url)));
  }
  AvInputContextPtr context{raw};
  if (int ret = avformat_find_stream_info(context.get(), nullptr); ret < 0) {
    return tl::unexpected(media_error_from_av(ret, fmt::format("cannot read stream information of '{}'", url)));
  }
  return PacketReader{std::move(context)};
}

int PacketReader::stream_count() const { return static_cast<int>(context_->nb_streams); }

const AVStream* PacketReader::stream(int index) const {
  if (index < 0 || index >= stream_count()) {
    return nullptr;
  }
  return context_->streams[index];
}

tl::expected<std::optional<AvPacketPtr>, MediaError> PacketReader::read_packet() {
  // Some demuxers misbehave when read again after EOF; remembering it keeps the end sticky.
  if (at_end_) {
    return std::optional<AvPacketPtr>{};
  }
  AvPacketPtr packet = make_av_packet();
  if (!packet) {
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate a packet"));
  }
  int ret = av_read_frame(context_.get(), packet.get());
  if (ret == AVERROR_EOF) {
    at_end_ = true;
    return std::optional<AvPacketPtr>{};
  }
  if (ret < 0) {
    return tl::unexpected(media_error_from_av(ret, "cannot read a packet"));
  }
  return std::optional<AvPacketPtr>{std::move(packet)};
}

namespace {

std::optional<double> seconds(int64_t first, int64_t second, AVRational time_base) {
  int64_t ticks = first != AV_NOPTS_VALUE ? first : second;
  if (ticks == AV_NOPTS_VALUE || time_base.den == 0) {
    return std::nullopt;
  }
  return static_cast<double>(ticks) * av_q2d(time_base);
}

}  // namespace

std::optional<double> packet_time_seconds(const AVPacket& packet, AVRational time_base) {
  return seconds(packet.pts, packet.dts, time_base);
}

std::optional<double> packet_decode_time_seconds(const AVPacket& packet, AVRational time_base) {
  return seconds(packet.dts, packet.pts, time_base);
}

}  // namespace trickle::media
