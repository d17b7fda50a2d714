#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "media_test_support.hpp"
#include "trickle/media/packet_reader.hpp"
#include "trickle/media/segment_muxer.hpp"

namespace trickle::media {
namespace {

using test::clips;
using test::MediaSummary;
using test::PacketInfo;
using test::RecordingSink;

constexpr size_t ts_packet_size = 188;

// Index of the first TS packet whose PID matches, or the packet count when none does.
template <typename Predicate>
size_t first_packet_of_pid(const std::vector<uint8_t>& bytes, Predicate matches) {
  size_t index = 0;
  for (; (index + 1) * ts_packet_size <= bytes.size(); ++index) {
    const uint8_t* header = bytes.data() + index * ts_packet_size;
    if (matches(((header[1] & 0x1f) << 8) | header[2])) {
      break;
    }
  }
  return index;
}

// Segments `input`, checks the sink protocol, and returns the segments' summaries (each decoded
// on its own).
struct Segmented {
  RecordingSink sink;
  std::vector<MediaSummary> summaries;
};

void segment_and_summarize(const std::filesystem::path& input, const test::TempDir& dir, Segmented& out) {
  auto dropped = test::segment_file(input, out.sink);
  BOOST_REQUIRE_MESSAGE(dropped, (dropped ? "" : dropped.error().message));
  BOOST_CHECK_EQUAL(*dropped, 0);
  for (const std::string& error : out.sink.protocol_errors) {
    BOOST_ERROR("sink protocol: " << error);
  }
  for (const auto& segment : out.sink.segments) {
    BOOST_CHECK(segment.ended);
    // Self-contained: whole TS packets, with the PAT before the first elementary-stream packet.
    BOOST_REQUIRE_GE(segment.bytes.size(), ts_packet_size);
    BOOST_CHECK_EQUAL(segment.bytes.size() % ts_packet_size, 0U);
    BOOST_CHECK_EQUAL(segment.bytes[0], 0x47);
    BOOST_CHECK_LT(first_packet_of_pid(segment.bytes, [](int pid) { return pid == 0; }),
                   first_packet_of_pid(segment.bytes, [](int pid) { return pid >= 0x100; }));
  }
  for (const auto& path : test::write_segments(dir.path(), out.sink.segments)) {
    out.summaries.push_back(test::summarize(path));
    // And the ffmpeg CLI decodes it alone without a single error.
    test::run_ffmpeg("-xerror -i " + path.string() + " -f null -");
  }
}

std::vector<int64_t> key_frame_pts(const MediaSummary& summary) {
  std::vector<int64_t> pts;
  for (const PacketInfo& packet : summary.packets_of(AVMEDIA_TYPE_VIDEO)) {
    if (packet.key) {
      pts.push_back(packet.pts);
    }
  }
  return pts;
}

void check_same_timestamps(const std::vector<PacketInfo>& expected, const std::vector<PacketInfo>& actual) {
  BOOST_REQUIRE_EQUAL(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST_CONTEXT("packet " << i) {
      BOOST_CHECK_EQUAL(expected[i].pts, actual[i].pts);
      BOOST_CHECK_EQUAL(expected[i].dts, actual[i].dts);
      BOOST_CHECK_EQUAL(expected[i].key, actual[i].key);
    }
  }
}

// Concatenates the per-segment summaries in segment order.
MediaSummary joined(const std::vector<MediaSummary>& summaries) {
  MediaSummary all;
  for (const MediaSummary& summary : summaries) {
    all.packets.insert(all.packets.end(), summary.packets.begin(), summary.packets.end());
    all.video_frame_hashes.insert(all.video_frame_hashes.end(), summary.video_frame_hashes.begin(),
                                  summary.video_frame_hashes.end());
    all.audio_frames += summary.audio_frames;
    all.corrupt_video_frames += summary.corrupt_video_frames;
  }
  return all;
}

// Checks every segment starts with a key frame at the matching input key frame's pts and
// decodes on its own to exactly its own pictures.
void check_segments_start_at_key_frames(const MediaSummary& input, const std::vector<MediaSummary>& segments) {
  const std::vector<int64_t> key_pts = key_frame_pts(input);
  BOOST_REQUIRE_EQUAL(segments.size(), key_pts.size());
  for (size_t k = 0; k < segments.size(); ++k) {
    BOOST_TEST_CONTEXT("segment " << k) {
      const auto video = segments[k].packets_of(AVMEDIA_TYPE_VIDEO);
      BOOST_REQUIRE(!video.empty());
      BOOST_CHECK(video.front().key);
      BOOST_CHECK_EQUAL(video.front().pts, key_pts[k]);
      BOOST_CHECK_EQUAL(segments[k].video_frame_hashes.size(), video.size());
      BOOST_CHECK_EQUAL(segments[k].corrupt_video_frames, 0);
      BOOST_CHECK(!segments[k].packets_of(AVMEDIA_TYPE_AUDIO).empty());
      BOOST_CHECK_GT(segments[k].audio_frames, 0);
    }
  }
}

// A sink that fails the way a dropped network connection would.
class ThrowingSink : public SegmentSink {
 public:
  void on_segment_begin(int64_t) override {}
  void on_segment_data(std::span<const uint8_t>) override {
    if (++calls > 3) {
      throw std::runtime_error("connection lost");
    }
  }
  void on_segment_end(int64_t) override {}
  int calls = 0;
};

BOOST_AUTO_TEST_SUITE(segment_muxer)

BOOST_AUTO_TEST_CASE(one_self_contained_segment_per_gop) {
  test::TempDir dir;
  const MediaSummary input = test::summarize(clips().video_audio);
  BOOST_REQUIRE_EQUAL(input.video_frame_hashes.size(), 150U);

  Segmented segmented;
  segment_and_summarize(clips().video_audio, dir, segmented);
  BOOST_REQUIRE_EQUAL(segmented.summaries.size(), 3U);  // 5 s at 30 fps, a key frame every 60
  check_segments_start_at_key_frames(input, segmented.summaries);

  const MediaSummary all = joined(segmented.summaries);
  BOOST_CHECK(all.video_frame_hashes == input.video_frame_hashes);
  check_same_timestamps(input.packets_of(AVMEDIA_TYPE_VIDEO), all.packets_of(AVMEDIA_TYPE_VIDEO));
  check_same_timestamps(input.packets_of(AVMEDIA_TYPE_AUDIO), all.packets_of(AVMEDIA_TYPE_AUDIO));
}

BOOST_AUTO_TEST_CASE(concatenated_segments_decode_like_the_input) {
  test::TempDir dir;
  const MediaSummary input = test::summarize(clips().video_audio);
  RecordingSink sink;
  auto dropped = test::segment_file(clips().video_audio, sink);
  BOOST_REQUIRE_MESSAGE(dropped, (dropped ? "" : dropped.error().message));

  std::vector<uint8_t> stream;
  for (const auto& segment : sink.segments) {
    stream.insert(stream.end(), segment.bytes.begin(), segment.bytes.end());
  }
  const auto joined_file = dir.path() / "joined.ts";
  test::write_bytes(joined_file, stream);
  const MediaSummary joined = test::summarize(joined_file);
  BOOST_CHECK_EQUAL(joined.video_frame_hashes.size(), input.video_frame_hashes.size());
  BOOST_CHECK(joined.video_frame_hashes == input.video_frame_hashes);
  BOOST_CHECK_EQUAL(joined.packets_of(AVMEDIA_TYPE_AUDIO).size(), input.packets_of(AVMEDIA_TYPE_AUDIO).size());
}

BOOST_AUTO_TEST_CASE(bytes_reach_the_sink_while_the_segment_is_produced) {
  RecordingSink sink;
  auto dropped = test::segment_file(clips().video_audio, sink);
  BOOST_REQUIRE(dropped);
  BOOST_REQUIRE(!sink.segments.empty());
  for (const auto& segment : sink.segments) {
    // Tens of calls per GOP, each far smaller than the segment: streamed, not buffered whole.
    BOOST_CHECK_GT(segment.data_calls, 10);
    BOOST_CHECK_LE(segment.largest_chunk, 64U * 1024U);
    BOOST_CHECK_LT(segment.largest_chunk * 4, segment.bytes.size());
  }
}

BOOST_AUTO_TEST_CASE(b_frames_keep_pts_and_dts) {
  test::TempDir dir;
  const MediaSummary input = test::summarize(clips().b_frames);
  const auto video_in = input.packets_of(AVMEDIA_TYPE_VIDEO);
  BOOST_REQUIRE_EQUAL(video_in.size(), 60U);
  bool reordered = false;
  for (const PacketInfo& packet : video_in) {
    reordered = reordered || packet.pts != packet.dts;
  }
  BOOST_REQUIRE_MESSAGE(reordered, "the clip was meant to have B-frames");

  Segmented segmented;
  segment_and_summarize(clips().b_frames, dir, segmented);
  BOOST_REQUIRE_EQUAL(segmented.summaries.size(), 2U);
  check_segments_start_at_key_frames(input, segmented.summaries);
  const MediaSummary all = joined(segmented.summaries);
  BOOST_CHECK(all.video_frame_hashes == input.video_frame_hashes);
  check_same_timestamps(video_in, all.packets_of(AVMEDIA_TYPE_VIDEO));
  check_same_timestamps(input.packets_of(AVMEDIA_TYPE_AUDIO), all.packets_of(AVMEDIA_TYPE_AUDIO));
}

BOOST_AUTO_TEST_CASE(audio_only_input_is_cut_every_two_seconds) {
  test::TempDir dir;
  const MediaSummary input = test::summarize(clips().audio_only);
  const auto audio_in = input.packets_of(AVMEDIA_TYPE_AUDIO);
  BOOST_REQUIRE(!audio_in.empty());

  Segmented segmented;
  segment_and_summarize(clips().audio_only, dir, segmented);
  BOOST_REQUIRE_EQUAL(segmented.summaries.size(), 3U);  // 5 s: [0, 2), [2, 4), [4, 5]
  const double start = static_cast<double>(audio_in.front().pts) * av_q2d(audio_in.front().time_base);
  for (size_t k = 0; k < segmented.summaries.size(); ++k) {
    BOOST_TEST_CONTEXT("segment " << k) {
      const auto audio = segmented.summaries[k].packets_of(AVMEDIA_TYPE_AUDIO);
      BOOST_REQUIRE(!audio.empty());
      const double offset = static_cast<double>(audio.front().pts) * av_q2d(audio.front().time_base) - start;
      BOOST_CHECK_GE(offset, 2.0 * static_cast<double>(k));
      BOOST_CHECK_LT(offset, 2.0 * static_cast<double>(k) + 0.05);
      BOOST_CHECK_GT(segmented.summaries[k].audio_frames, 0);
    }
  }
  check_same_timestamps(audio_in, joined(segmented.summaries).packets_of(AVMEDIA_TYPE_AUDIO));
}

BOOST_AUTO_TEST_CASE(truncated_input_yields_the_segments_before_the_cut) {
  test::TempDir dir;
  const MediaSummary input = test::summarize(clips().video_audio);
  std::vector<uint8_t> bytes = test::read_bytes(clips().video_audio);
  // Cut at about 60% (inside the second GOP), in the middle of a TS packet.
  bytes.resize((bytes.size() * 6 / 10) / ts_packet_size * ts_packet_size + 100);
  const auto truncated = dir.path() / "truncated.ts";
  test::write_bytes(truncated, bytes);

  RecordingSink sink;
  auto dropped = test::segment_file(truncated, sink);
  BOOST_REQUIRE_MESSAGE(dropped, (dropped ? "" : dropped.error().message));
  BOOST_CHECK(sink.protocol_errors.empty());
  BOOST_REQUIRE_EQUAL(sink.segments.size(), 2U);
  std::vector<uint64_t> hashes;
  for (const auto& path : test::write_segments(dir.path(), sink.segments)) {
    const MediaSummary segment = test::summarize(path);
    const auto video = segment.packets_of(AVMEDIA_TYPE_VIDEO);
    BOOST_REQUIRE(!video.empty());
    BOOST_CHECK(video.front().key);
    hashes.insert(hashes.end(), segment.video_frame_hashes.begin(), segment.video_frame_hashes.end());
  }
  // All complete pictures before the cut come out unchanged; the one cut through may not.
  BOOST_REQUIRE_GT(hashes.size(), 61U);
  BOOST_REQUIRE_LT(hashes.size(), 150U);
  for (size_t i = 0; i + 1 < hashes.size(); ++i) {
    BOOST_CHECK_MESSAGE(hashes[i] == input.video_frame_hashes[i], "frame " << i << " differs");
  }
}

BOOST_AUTO_TEST_CASE(mp4_input_becomes_annex_b_with_non_negative_times) {
  test::TempDir dir;
  const MediaSummary input = test::summarize(clips().mp4);
  Segmented segmented;
  segment_and_summarize(clips().mp4, dir, segmented);
  BOOST_REQUIRE_EQUAL(segmented.summaries.size(), 2U);
  for (const MediaSummary& segment : segmented.summaries) {
    const auto video = segment.packets_of(AVMEDIA_TYPE_VIDEO);
    BOOST_REQUIRE(!video.empty());
    BOOST_CHECK(video.front().key);
    BOOST_CHECK_EQUAL(segment.video_frame_hashes.size(), video.size());
    for (const PacketInfo& packet : segment.packets) {
      BOOST_CHECK_GE(packet.dts, 0);
      BOOST_CHECK_GE(packet.pts, 0);
      BOOST_CHECK_LT(packet.pts, 3 * 90000);  // a negative time would wrap to about 2^33
    }
  }
  // The AAC priming (-1024 samples at 48 kHz) moved the whole timeline, video included, once.
  const auto first_segment = segmented.summaries.front().packets;
  BOOST_CHECK_EQUAL(first_segment.front().dts, 0);
  BOOST_CHECK_EQUAL(segmented.summaries.front().packets_of(AVMEDIA_TYPE_VIDEO).front().pts, 1920);
  BOOST_CHECK(joined(segmented.summaries).video_frame_hashes == input.video_frame_hashes);
}

BOOST_AUTO_TEST_CASE(nothing_to_carry_is_an_error) {
  RecordingSink sink;
  BOOST_CHECK(!SegmentMuxer::create(std::span<const SegmentMuxer::InputStream>{}, sink));

  AvCodecParametersPtr data{avcodec_parameters_alloc()};
  BOOST_REQUIRE(data);
  data->codec_type = AVMEDIA_TYPE_DATA;
  data->codec_id = AV_CODEC_ID_SCTE_35;
  const SegmentMuxer::InputStream only_data[] = {{data.get(), AVRational{1, 90000}}};
  auto muxer = SegmentMuxer::create(only_data, sink);
  BOOST_REQUIRE(!muxer);
  BOOST_CHECK(!muxer.error().message.empty());

  AvCodecParametersPtr video{avcodec_parameters_alloc()};
  video->codec_type = AVMEDIA_TYPE_VIDEO;
  video->codec_id = AV_CODEC_ID_H264;
  const SegmentMuxer::InputStream no_time_base[] = {{video.get(), AVRational{0, 1}}};
  BOOST_CHECK(!SegmentMuxer::create(no_time_base, sink));
}

BOOST_AUTO_TEST_CASE(unusable_packets_are_dropped_and_counted) {
  auto reader = PacketReader::open(clips().video_audio.string());
  BOOST_REQUIRE(reader);
  RecordingSink sink;
  auto muxer = SegmentMuxer::create(reader->format_context(), sink);
  BOOST_REQUIRE(muxer);

  // An audio packet: a repeated video key frame would rightly open a new segment instead.
  AvPacketPtr audio;
  while (!audio) {
    auto next = reader->read_packet();
    BOOST_REQUIRE(next && *next);
    if (reader->stream((**next)->stream_index)->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
      audio = std::move(**next);
    }
  }
  AVPacket& packet = *audio;
  BOOST_CHECK(muxer->write(packet, packet.stream_index));
  BOOST_CHECK(muxer->write(packet, packet.stream_index));  // same dts again
  BOOST_CHECK(muxer->write(packet, 7));                    // no such stream
  BOOST_CHECK(muxer->write(packet, -1));
  packet.pts = AV_NOPTS_VALUE;
  packet.dts = AV_NOPTS_VALUE;
  BOOST_CHECK(muxer->write(packet, packet.stream_index));  // no time at all
  BOOST_CHECK_EQUAL(muxer->dropped_packet_count(), 4);
  BOOST_CHECK(muxer->finish());
  BOOST_CHECK_EQUAL(muxer->segment_count(), 1);
  BOOST_CHECK(sink.protocol_errors.empty());
}

BOOST_AUTO_TEST_CASE(finish_without_packets_and_write_after_finish) {
  auto reader = PacketReader::open(clips().video_audio.string());
  BOOST_REQUIRE(reader);
  RecordingSink sink;
  auto muxer = SegmentMuxer::create(reader->format_context(), sink);
  BOOST_REQUIRE(muxer);
  BOOST_CHECK(muxer->finish());
  BOOST_CHECK(muxer->finish());
  BOOST_CHECK(sink.segments.empty());
  BOOST_CHECK_EQUAL(muxer->segment_count(), 0);

  auto packet = reader->read_packet();
  BOOST_REQUIRE(packet && *packet);
  auto written = muxer->write(***packet, (**packet)->stream_index);
  BOOST_REQUIRE(!written);
  BOOST_CHECK(!written.error().message.empty());
}

BOOST_AUTO_TEST_CASE(a_throwing_sink_propagates_and_leaves_the_muxer_failed) {
  auto reader = PacketReader::open(clips().video_audio.string());
  BOOST_REQUIRE(reader);
  ThrowingSink sink;
  auto muxer = SegmentMuxer::create(reader->format_context(), sink);
  BOOST_REQUIRE(muxer);

  bool thrown = false;
  while (!thrown) {
    auto packet = reader->read_packet();
    BOOST_REQUIRE(packet && *packet);
    try {
      auto written = muxer->write(***packet, (**packet)->stream_index);
      BOOST_REQUIRE(written);
    } catch (const std::runtime_error& error) {
      BOOST_CHECK_EQUAL(error.what(), std::string{"connection lost"});
      thrown = true;
    }
  }
  auto packet = reader->read_packet();
  BOOST_REQUIRE(packet && *packet);
  BOOST_CHECK(!muxer->write(***packet, (**packet)->stream_index));
  BOOST_CHECK(!muxer->finish());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace trickle::media
