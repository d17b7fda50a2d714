#pragma once

// What upstream PyTrickle's decoder reports once after probing (its `put_metadata` dict): the
// first video and first audio stream as the demuxer and decoder see them.

#include <cstdint>
#include <optional>
#include <string>

extern "C" {
#include <libavutil/rational.h>
}

namespace trickle::media {

struct VideoStreamMetadata {
  std::string codec;  // decoder name, e.g. "h264"
  int width = 0;
  int height = 0;
  std::string pix_fmt;                  // e.g. "yuv420p"; empty when unknown
  AVRational time_base{0, 1};           // the stream's: 1/90000 for MPEG-TS
  std::optional<AVRational> framerate;  // the codec's; none when unknown
  std::optional<AVRational> sar;        // none when unset, like PyAV's None
  std::optional<AVRational> dar;
  std::string format;  // PyAV's str(VideoFormat): "<av.VideoFormat yuv420p, 1280x720>"
  int target_width = 0;
  int target_height = 0;
};

struct AudioStreamMetadata {
  std::string codec;  // e.g. "aac"
  int sample_rate = 0;
  std::string format;  // sample format name, e.g. "fltp"
  int channels = 0;
  std::string layout;  // e.g. "stereo"
  AVRational time_base{0, 1};
  std::int64_t bit_rate = 0;
};

struct StreamMetadata {
  std::optional<VideoStreamMetadata> video;
  std::optional<AudioStreamMetadata> audio;
};

}  // namespace trickle::media
