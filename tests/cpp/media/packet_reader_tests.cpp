#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <random>

#include "media_test_support.hpp"
#include "trickle/media/packet_reader.hpp"

namespace trickle::media {
namespace {

using test::clips;

BOOST_AUTO_TEST_SUITE(packet_reader)

BOOST_AUTO_TEST_CASE(reads_every_packet_in_file_order_then_stays_at_end) {
  auto reader = PacketReader::open(clips().video_audio.string());
  BOOST_REQUIRE_MESSAGE(reader, (reader ? "" : reader.error().message));
  BOOST_REQUIRE_EQUAL(reader->stream_count(), 2);
  BOOST_CHECK(reader->stream(2) == nullptr);
  BOOST_CHECK(reader->stream(-1) == nullptr);

  int video_index = -1;
  for (int i = 0; i < reader->stream_count(); ++i) {
    if (reader->stream(i)->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      video_index = i;
      // Probed up front, as a muxer needs them before the first packet.
      BOOST_CHECK_EQUAL(reader->stream(i)->codecpar->width, 320);
      BOOST_CHECK_EQUAL(reader->stream(i)->codecpar->height, 240);
    }
  }
  BOOST_REQUIRE_GE(video_index, 0);

  int video_packets = 0;
  int audio_packets = 0;
  int key_frames = 0;
  int64_t last_video_dts = AV_NOPTS_VALUE;
  for (;;) {
    auto packet = reader->read_packet();
    BOOST_REQUIRE(packet);
    if (!*packet) {
      break;
    }
    const AVPacket& p = ***packet;
    if (p.stream_index == video_index) {
      ++video_packets;
      key_frames += (p.flags & AV_PKT_FLAG_KEY) != 0 ? 1 : 0;
      BOOST_CHECK(last_video_dts == AV_NOPTS_VALUE || p.dts > last_video_dts);
      last_video_dts = p.dts;
    } else {
      ++audio_packets;
    }
  }
  BOOST_CHECK_EQUAL(video_packets, 150);
  BOOST_CHECK_EQUAL(key_frames, 3);
  BOOST_CHECK_GT(audio_packets, 200);  // 5 s of 1024-sample AAC frames at 48 kHz: about 235

  for (int i = 0; i < 3; ++i) {
    auto again = reader->read_packet();
    BOOST_REQUIRE(again);
    BOOST_CHECK(!*again);
  }
}

BOOST_AUTO_TEST_CASE(packet_times_in_seconds) {
  AvPacketPtr packet = make_av_packet();
  BOOST_REQUIRE(packet);
  const AVRational ninety_khz{1, 90000};

  packet->pts = 135000;
  packet->dts = 126000;
  BOOST_CHECK_CLOSE(*packet_time_seconds(*packet, ninety_khz), 1.5, 1e-9);
  BOOST_CHECK_CLOSE(*packet_decode_time_seconds(*packet, ninety_khz), 1.4, 1e-9);

  packet->pts = AV_NOPTS_VALUE;
  BOOST_CHECK_CLOSE(*packet_time_seconds(*packet, ninety_khz), 1.4, 1e-9);

  packet->pts = 135000;
  packet->dts = AV_NOPTS_VALUE;
  BOOST_CHECK_CLOSE(*packet_decode_time_seconds(*packet, ninety_khz), 1.5, 1e-9);

  packet->pts = AV_NOPTS_VALUE;
  BOOST_CHECK(!packet_time_seconds(*packet, ninety_khz));
  BOOST_CHECK(!packet_decode_time_seconds(*packet, ninety_khz));

  packet->pts = 48000;
  BOOST_CHECK(!packet_time_seconds(*packet, AVRational{1, 0}));
  BOOST_CHECK_CLOSE(*packet_time_seconds(*packet, AVRational{1, 48000}), 1.0, 1e-9);
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error_naming_it) {
  test::TempDir dir;
  const auto missing = dir.path() / "missing.ts";
  auto reader = PacketReader::open(missing.string());
  BOOST_REQUIRE(!reader);
  BOOST_CHECK_EQUAL(reader.error().av_code, AVERROR(ENOENT));
  BOOST_CHECK_NE(reader.error().message.find("missing.ts"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(empty_file_is_an_error) {
  test::TempDir dir;
  const auto empty = dir.path() / "empty.ts";
  test::write_bytes(empty, {});
  auto reader = PacketReader::open(empty.string());
  BOOST_REQUIRE(!reader);
  BOOST_CHECK_LT(reader.error().av_code, 0);
  BOOST_CHECK(!reader.error().message.empty());
}

BOOST_AUTO_TEST_CASE(garbage_is_an_error) {
  test::TempDir dir;
  const auto garbage = dir.path() / "garbage.ts";
  std::mt19937 random(20240601);
  std::vector<uint8_t> bytes(256 * 1024);
  for (auto& byte : bytes) {
    byte = static_cast<uint8_t>(random());
  }
  test::write_bytes(garbage, bytes);
  auto reader = PacketReader::open(garbage.string());
  BOOST_REQUIRE(!reader);
  BOOST_CHECK_EQUAL(reader.error().av_code, AVERROR_INVALIDDATA);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace trickle::media
