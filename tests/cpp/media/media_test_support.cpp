#include "media_test_support.hpp"

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <algorithm>

#include <fmt/format.h>

#include "trickle/media/packet_reader.hpp"
#include "trickle/media/segment_muxer.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace trickle::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "trickle_media_XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  BOOST_REQUIRE_MESSAGE(made != nullptr, "cannot create a temporary directory");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void run_ffmpeg(const std::string& arguments) {
  const std::string command = "ffmpeg -y -hide_banner -nostdin -loglevel error " + arguments;
  const int status = std::system(command.c_str());
  BOOST_REQUIRE_MESSAGE(status == 0, "command failed: " << command);
}

namespace {

struct ClipStore {
  TempDir dir;
  Clips clips;

  ClipStore() {
    const auto& d = dir.path();
    clips.video_audio = d / "video_audio.ts";
    clips.b_frames = d / "b_frames.ts";
    clips.audio_only = d / "audio_only.ts";
    clips.mp4 = d / "clip.mp4";
    const std::string sources =
        "-f lavfi -i testsrc2=size=320x240:rate=30 "
        "-f lavfi -i sine=frequency=440:sample_rate=48000";
    const std::string x264 = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -sc_threshold 0";
    run_ffmpeg(fmt::format("{} -t 5 {} -g 60 -keyint_min 60 -bf 0 -c:a aac -f mpegts {}", sources, x264,
                           clips.video_audio.string()));
    // ultrafast disables B-frames, so this one uses a preset that keeps them.
    run_ffmpeg(
        fmt::format("{} -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -sc_threshold 0 -g 30 "
                    "-keyint_min 30 -bf 2 -c:a aac -f mpegts {}",
                    sources, clips.b_frames.string()));
    run_ffmpeg(
        fmt::format("-f lavfi -i sine=frequency=440:sample_rate=48000 -t 5 -c:a aac "
                    "-f mpegts {}",
                    clips.audio_only.string()));
    run_ffmpeg(
        fmt::format("{} -t 2 {} -g 30 -keyint_min 30 -bf 0 -c:a aac -f mp4 {}", sources, x264, clips.mp4.string()));
  }
};

}  // namespace

const Clips& clips() {
  static const ClipStore store;
  return store.clips;
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE_MESSAGE(out, "cannot write " << file);
}

void RecordingSink::on_segment_begin(int64_t index) {
  if (open_) {
    protocol_errors.push_back(fmt::format("begin {} while a segment is open", index));
  }
  if (index != static_cast<int64_t>(segments.size())) {
    protocol_errors.push_back(fmt::format("begin {} after {} segments", index, segments.size()));
  }
  open_ = true;
  segments.push_back(RecordedSegment{index, {}, 0, 0, false});
}

void RecordingSink::on_segment_data(std::span<const uint8_t> bytes) {
  if (!open_) {
    protocol_errors.push_back("data outside a segment");
    return;
  }
  RecordedSegment& segment = segments.back();
  segment.bytes.insert(segment.bytes.end(), bytes.begin(), bytes.end());
  ++segment.data_calls;
  segment.largest_chunk = std::max(segment.largest_chunk, bytes.size());
}

void RecordingSink::on_segment_end(int64_t index) {
  if (!open_ || segments.empty() || segments.back().index != index) {
    protocol_errors.push_back(fmt::format("end {} does not match the open segment", index));
    return;
  }
  open_ = false;
  segments.back().ended = true;
}

tl::expected<int64_t, media::MediaError> segment_file(const std::filesystem::path& input, media::SegmentSink& sink) {
  auto reader = media::PacketReader::open(input.string());
  if (!reader) {
    return tl::unexpected(reader.error());
  }
  auto muxer = media::SegmentMuxer::create(reader->format_context(), sink);
  if (!muxer) {
    return tl::unexpected(muxer.error());
  }
  for (;;) {
    auto packet = reader->read_packet();
    if (!packet) {
      return tl::unexpected(packet.error());
    }
    if (!*packet) {
      break;
    }
    AVPacket& p = ***packet;
    if (auto written = muxer->write(p, p.stream_index); !written) {
      return tl::unexpected(written.error());
    }
  }
  if (auto finished = muxer->finish(); !finished) {
    return tl::unexpected(finished.error());
  }
  return muxer->dropped_packet_count();
}

std::vector<std::filesystem::path> write_segments(const std::filesystem::path& dir,
                                                  const std::vector<RecordedSegment>& segments) {
  std::vector<std::filesystem::path> paths;
  for (const RecordedSegment& segment : segments) {
    paths.push_back(dir / fmt::format("segment_{}.ts", segment.index));
    write_bytes(paths.back(), segment.bytes);
  }
  return paths;
}

std::vector<PacketInfo> MediaSummary::packets_of(AVMediaType type) const {
  std::vector<PacketInfo> selected;
  for (const PacketInfo& packet : packets) {
    if (packet.type == type) {
      selected.push_back(packet);
    }
  }
  return selected;
}

namespace {

uint64_t hash_picture(const AVFrame& frame) {
  // FNV-1a over the visible bytes of every plane (padding past the width is not picture).
  uint64_t hash = 1469598103934665603ULL;
  const auto format = static_cast<AVPixelFormat>(frame.format);
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(format);
  BOOST_REQUIRE(descriptor != nullptr);
  const int planes = av_pix_fmt_count_planes(format);
  for (int plane = 0; plane < planes; ++plane) {
    const int row_bytes = av_image_get_linesize(format, frame.width, plane);
    const bool chroma = plane == 1 || plane == 2;
    const int rows = chroma ? AV_CEIL_RSHIFT(frame.height, descriptor->log2_chroma_h) : frame.height;
    for (int row = 0; row < rows; ++row) {
      const uint8_t* bytes = frame.data[plane] + static_cast<ptrdiff_t>(row) * frame.linesize[plane];
      for (int i = 0; i < row_bytes; ++i) {
        hash = (hash ^ bytes[i]) * 1099511628211ULL;
      }
    }
  }
  return hash;
}

void drain(AVCodecContext& decoder, AVFrame& frame, MediaSummary& summary) {
  while (avcodec_receive_frame(&decoder, &frame) >= 0) {
    if (decoder.codec_type == AVMEDIA_TYPE_VIDEO) {
      summary.video_frame_hashes.push_back(hash_picture(frame));
      if ((frame.flags & AV_FRAME_FLAG_CORRUPT) != 0) {
        ++summary.corrupt_video_frames;
      }
    } else {
      ++summary.audio_frames;
    }
    av_frame_unref(&frame);
  }
}

}  // namespace

MediaSummary summarize(const std::filesystem::path& file) {
  auto reader = media::PacketReader::open(file.string());
  BOOST_REQUIRE_MESSAGE(reader, "cannot open " << file << ": " << (reader ? "" : reader.error().message));
  MediaSummary summary;
  std::map<int, media::AvCodecContextPtr> decoders;
  auto decoder_for = [&](int index) -> AVCodecContext* {
    if (auto found = decoders.find(index); found != decoders.end()) {
      return found->second.get();
    }
    const AVStream* stream = reader->stream(index);
    media::AvCodecContextPtr& decoder = decoders[index];
    const AVMediaType type = stream->codecpar->codec_type;
    if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO) {
      return nullptr;
    }
    const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
    BOOST_REQUIRE_MESSAGE(codec != nullptr, "no decoder for stream " << index << " of " << file);
    decoder.reset(avcodec_alloc_context3(codec));
    BOOST_REQUIRE(decoder);
    BOOST_REQUIRE(avcodec_parameters_to_context(decoder.get(), stream->codecpar) >= 0);
    decoder->pkt_timebase = stream->time_base;
    BOOST_REQUIRE(avcodec_open2(decoder.get(), codec, nullptr) >= 0);
    return decoder.get();
  };

  media::AvFramePtr frame = media::make_av_frame();
  BOOST_REQUIRE(frame);
  for (;;) {
    auto packet = reader->read_packet();
    BOOST_REQUIRE_MESSAGE(packet, "read error in " << file << ": " << (packet ? "" : packet.error().message));
    if (!*packet) {
      break;
    }
    const AVPacket& p = ***packet;
    const AVStream* stream = reader->stream(p.stream_index);
    BOOST_REQUIRE(stream != nullptr);
    summary.packets.push_back(
        PacketInfo{stream->codecpar->codec_type, p.pts, p.dts, stream->time_base, (p.flags & AV_PKT_FLAG_KEY) != 0});
    if (AVCodecContext* decoder = decoder_for(p.stream_index)) {
      // A failed packet is a missing frame, which the frame counts catch.
      avcodec_send_packet(decoder, &p);
      drain(*decoder, *frame, summary);
    }
  }
  for (auto& [index, decoder] : decoders) {
    if (decoder) {
      avcodec_send_packet(decoder.get(), nullptr);
      drain(*decoder, *frame, summary);
    }
  }
  return summary;
}

}  // namespace trickle::test
