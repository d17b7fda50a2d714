#pragma once

// Shared by the media tests: clips made with the ffmpeg CLI at test time, a sink that records
// segments, and a demux+decode summary of a file to compare segments against their input.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "trickle/media/av_ptr.hpp"
#include "trickle/media/media_error.hpp"
#include "trickle/media/segment_sink.hpp"

namespace trickle::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs `ffmpeg -y -hide_banner -loglevel error <arguments>`; fails the test when it fails.
void run_ffmpeg(const std::string& arguments);

// Made once per test run, on first use.
struct Clips {
  // 5 s, 320x240 at 30 fps, H.264 with a key frame every 60 frames and no B-frames, plus AAC.
  std::filesystem::path video_audio;
  // 2 s, H.264 with B-frames (pts != dts), key frame every 30 frames, plus AAC.
  std::filesystem::path b_frames;
  // 5 s of AAC alone.
  std::filesystem::path audio_only;
  // 2 s, H.264 (length-prefixed NAL units) + AAC (with priming, so negative start) in MP4.
  std::filesystem::path mp4;
};
const Clips& clips();

std::vector<uint8_t> read_bytes(const std::filesystem::path& file);
void write_bytes(const std::filesystem::path& file, const std::vector<uint8_t>& bytes);

struct RecordedSegment {
  int64_t index = -1;
  std::vector<uint8_t> bytes;
  int64_t data_calls = 0;
  size_t largest_chunk = 0;
  bool ended = false;
};

// Records what a SegmentMuxer hands its sink, and any breach of the sink protocol
// (begin/data/end order, consecutive indices).
class RecordingSink : public media::SegmentSink {
 public:
  void on_segment_begin(int64_t index) override;
  void on_segment_data(std::span<const uint8_t> bytes) override;
  void on_segment_end(int64_t index) override;

  std::vector<RecordedSegment> segments;
  std::vector<std::string> protocol_errors;

 private:
  bool open_ = false;
};

// Demuxes and muxes a whole file through PacketReader + SegmentMuxer; returns the muxer's
// dropped-packet count.
tl::expected<int64_t, media::MediaError> segment_file(const std::filesystem::path& input, media::SegmentSink& sink);

// Writes each recorded segment to dir/segment_<k>.ts and returns the paths.
std::vector<std::filesystem::path> write_segments(const std::filesystem::path& dir,
                                                  const std::vector<RecordedSegment>& segments);

struct PacketInfo {
  AVMediaType type = AVMEDIA_TYPE_UNKNOWN;
  int64_t pts = AV_NOPTS_VALUE;
  int64_t dts = AV_NOPTS_VALUE;
  AVRational time_base{0, 1};
  bool key = false;
};

struct MediaSummary {
  std::vector<PacketInfo> packets;           // in file order
  std::vector<uint64_t> video_frame_hashes;  // decoded pictures, in presentation order
  int64_t audio_frames = 0;                  // decoded audio frames
  int corrupt_video_frames = 0;

  std::vector<PacketInfo> packets_of(AVMediaType type) const;
};

// Demuxes the file and decodes every video and audio packet; fails the test when it cannot be
// opened or a decoder cannot be set up. Decode errors of single packets are tolerated (they show
// up as missing frames).
MediaSummary summarize(const std::filesystem::path& file);

}  // namespace trickle::test
