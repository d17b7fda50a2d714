// StreamDecoder against independent expectations: pixels from the ffmpeg CLI, geometry and the
// frame-rate rule re-derived here from upstream PyTrickle's description, pts lists from ffprobe.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "media_test_support.hpp"
#include "trickle/media/byte_stream.hpp"
#include "trickle/media/cover_crop.hpp"
#include "trickle/media/stream_decoder.hpp"

namespace trickle::media {
namespace {

using test::run_ffmpeg;
using test::TempDir;

struct Frame {
  std::int64_t pts = 0;
  AVRational time_base{0, 1};
  std::vector<std::uint8_t> levels;  // the tensor back as 0..255 levels
  bool exact_levels = true;          // every float value was exactly k/255
  bool in_range = true;
};

struct Decoded {
  std::optional<StreamMetadata> metadata;
  int metadata_calls = 0;
  std::vector<Frame> video;
  std::vector<DecodedAudioFrame> audio;
  std::vector<tensor::Tensor::Shape> shapes;
  std::vector<tensor::DType> dtypes;
  tl::expected<void, MediaError> result;
  StreamDecoderStats stats;
};

Frame to_frame(const DecodedVideoFrame& decoded) {
  Frame frame;
  frame.pts = decoded.pts;
  frame.time_base = decoded.time_base;
  const auto count = static_cast<std::size_t>(decoded.tensor.numel());
  frame.levels.resize(count);
  if (decoded.tensor.dtype() == tensor::DType::uint8) {
    const auto* data = static_cast<const std::uint8_t*>(decoded.tensor.data());
    std::copy(data, data + count, frame.levels.begin());
    return frame;
  }
  const auto* data = static_cast<const float*>(decoded.tensor.data());
  for (std::size_t i = 0; i < count; ++i) {
    const float value = data[i];
    frame.in_range = frame.in_range && value >= 0.0f && value <= 1.0f;
    const long level = std::lround(value * 255.0f);
    frame.exact_levels = frame.exact_levels && static_cast<float>(level) / 255.0f == value;
    frame.levels[i] = static_cast<std::uint8_t>(std::clamp(level, 0L, 255L));
  }
  return frame;
}

StreamDecoderCallbacks collecting(Decoded& out, std::function<void(const Frame&)> each = {}) {
  StreamDecoderCallbacks callbacks;
  callbacks.on_metadata = [&out](const StreamMetadata& metadata) {
    out.metadata = metadata;
    ++out.metadata_calls;
  };
  callbacks.on_video = [&out, each](DecodedVideoFrame frame) {
    out.shapes.push_back(frame.tensor.shape());
    out.dtypes.push_back(frame.tensor.dtype());
    out.video.push_back(to_frame(frame));
    if (each) {
      each(out.video.back());
    }
  };
  callbacks.on_audio = [&out](DecodedAudioFrame frame) { out.audio.push_back(std::move(frame)); };
  return callbacks;
}

// No rate limit in effect for pixel tests: 1000 fps accepts every 30 fps frame. Drained, so
// every frame the CLI makes is there to compare with.
StreamDecoderOptions unlimited(int width = 512, int height = 512) {
  StreamDecoderOptions options;
  options.video.width = width;
  options.video.height = height;
  options.max_framerate = [] { return 1000; };
  options.drain_at_end = true;
  return options;
}

Decoded decode_file(const std::filesystem::path& file, StreamDecoderOptions options) {
  Decoded out;
  StreamDecoder decoder(std::move(options), collecting(out));
  out.result = decoder.run(file.string());
  out.stats = decoder.stats();
  return out;
}

// Feeds bytes from another thread in odd-sized chunks, then closes the stream.
Decoded decode_bytes(const std::vector<std::uint8_t>& bytes, StreamDecoderOptions options,
                     std::size_t capacity = 64 * 1024) {
  Decoded out;
  ByteStream stream(capacity);
  std::thread producer([&] {
    static constexpr std::size_t sizes[] = {1, 7, 188, 1000, 4093, 65521, 13};
    std::size_t offset = 0;
    for (std::size_t k = 0; offset < bytes.size(); ++k) {
      const std::size_t size = std::min(sizes[k % std::size(sizes)], bytes.size() - offset);
      if (!stream.push(std::vector<std::uint8_t>(bytes.begin() + offset, bytes.begin() + offset + size))) {
        return;
      }
      offset += size;
    }
    stream.close();
  });
  StreamDecoder decoder(std::move(options), collecting(out));
  out.result = decoder.run(stream);
  out.stats = decoder.stats();
  stream.abort();  // releases the producer if the decoder gave up early
  producer.join();
  return out;
}

std::string clip_command(const std::filesystem::path& file, int width, int height, double seconds,
                         const std::string& pix_fmt = "yuv420p", bool audio = false) {
  return fmt::format(
      "-f lavfi -i testsrc2=size={}x{}:rate=30 {} -t {} -c:v libx264 -preset ultrafast "
      "-pix_fmt {} -g 30 -bf 0 {} -f mpegts {}",
      width, height, audio ? "-f lavfi -i sine=frequency=440:sample_rate=48000" : "", seconds, pix_fmt,
      audio ? "-c:a aac" : "", file.string());
}

// The pictures as the ffmpeg CLI makes them with `filters` (swscale, bilinear), as RGB. With
// via_rgba the scaler writes rgba and alpha is dropped here: upstream's route, which libswscale
// rounds differently from writing rgb24.
std::vector<std::uint8_t> cli_rgb(const std::filesystem::path& clip, const std::filesystem::path& out,
                                  const std::string& filters, bool via_rgba) {
  run_ffmpeg(
      fmt::format("-i {} -map 0:v:0 -vf {} -pix_fmt {} -fps_mode passthrough "
                  "-f rawvideo {}",
                  clip.string(), filters, via_rgba ? "rgba" : "rgb24", out.string()));
  auto bytes = test::read_bytes(out);
  if (!via_rgba) {
    return bytes;
  }
  std::vector<std::uint8_t> rgb(bytes.size() / 4 * 3);
  for (std::size_t p = 0; p < bytes.size() / 4; ++p) {
    std::copy_n(bytes.data() + p * 4, 3, rgb.data() + p * 3);
  }
  return rgb;
}

struct Geometry {
  int scaled_width, scaled_height, x0, y0;
};

// Upstream's rule, written again from its description (decoder.py): the test's own derivation.
Geometry upstream_geometry(int w, int h, int tw, int th) {
  if (w == tw && h == th) {
    return {w, h, 0, 0};
  }
  int nw = 0;
  int nh = 0;
  if (static_cast<double>(tw) / th < static_cast<double>(w) / h) {
    nh = th;
    nw = static_cast<int>(std::floor(static_cast<double>(th) * w / h / 2.0)) * 2;
  } else {
    nw = tw;
    nh = static_cast<int>(std::floor(static_cast<double>(tw) * h / w / 2.0)) * 2;
  }
  return {nw, nh, nw / 2 - tw / 2, nh / 2 - th / 2};
}

// PIL-style crop of one scaled rgb24 picture, black outside.
std::vector<std::uint8_t> crop(const std::uint8_t* picture, const Geometry& g, int tw, int th) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(tw) * th * 3, 0);
  for (int y = 0; y < th; ++y) {
    for (int x = 0; x < tw; ++x) {
      const int sx = g.x0 + x;
      const int sy = g.y0 + y;
      if (sx < 0 || sy < 0 || sx >= g.scaled_width || sy >= g.scaled_height) {
        continue;
      }
      for (int c = 0; c < 3; ++c) {
        out[(static_cast<std::size_t>(y) * tw + x) * 3 + c] =
            picture[(static_cast<std::size_t>(sy) * g.scaled_width + sx) * 3 + c];
      }
    }
  }
  return out;
}

int max_abs_diff(const std::vector<std::uint8_t>& a, const std::uint8_t* b) {
  int worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i])));
  }
  return worst;
}

std::vector<std::int64_t> ffprobe_video_pts(const std::filesystem::path& clip, const std::filesystem::path& out) {
  const std::string command = fmt::format(
      "ffprobe -v error -select_streams v:0 -show_entries frame=pts -of csv=p=0 {} > {}", clip.string(), out.string());
  BOOST_REQUIRE_EQUAL(std::system(command.c_str()), 0);
  std::vector<std::int64_t> pts;
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      pts.push_back(std::stoll(line));
    }
  }
  return pts;
}

// Upstream's limiter, re-derived: fps_for(k) is the limit in force for the k-th frame (every
// frame is its own packet in these clips, and the limit is re-read per packet).
std::vector<std::int64_t> limited(const std::vector<std::int64_t>& pts, AVRational time_base,
                                  const std::function<int(std::size_t accepted)>& fps_for) {
  std::vector<std::int64_t> accepted;
  double next = 0.0;
  for (std::int64_t p : pts) {
    const int fps = fps_for(accepted.size());
    const double interval = fps > 0 ? 1.0 / fps : 0.033;
    const double t = static_cast<double>(p) * time_base.num / time_base.den;
    if (t < next) {
      continue;
    }
    next = t > next + interval ? t + interval : next + interval;
    accepted.push_back(p);
  }
  return accepted;
}

std::vector<std::int64_t> pts_of(const std::vector<Frame>& frames) {
  std::vector<std::int64_t> pts;
  for (const auto& frame : frames) {
    pts.push_back(frame.pts);
  }
  return pts;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_decoder)

BOOST_AUTO_TEST_CASE(cover_crop_matches_upstream_examples) {
  const CoverCrop landscape = cover_crop(1280, 720, 512, 512);
  BOOST_TEST(landscape.scaled_width == 910);
  BOOST_TEST(landscape.scaled_height == 512);
  BOOST_TEST(landscape.crop_x == 199);
  BOOST_TEST(landscape.crop_y == 0);
  for (auto [w, h, tw, th] : std::vector<std::array<int, 4>>{{720, 1280, 512, 512},
                                                             {641, 359, 512, 512},
                                                             {1022, 1022, 511, 511},
                                                             {640, 480, 320, 180},
                                                             {512, 512, 512, 512},
                                                             {3, 1000, 64, 48}}) {
    const CoverCrop got = cover_crop(w, h, tw, th);
    const Geometry want = upstream_geometry(w, h, tw, th);
    BOOST_TEST_CONTEXT(w << "x" << h << " -> " << tw << "x" << th) {
      BOOST_TEST(got.scaled_width == want.scaled_width);
      BOOST_TEST(got.scaled_height == want.scaled_height);
      BOOST_TEST(got.crop_x == want.x0);
      BOOST_TEST(got.crop_y == want.y0);
    }
  }
}

BOOST_AUTO_TEST_CASE(landscape_720p_matches_ffmpeg_scale_and_crop) {
  TempDir dir;
  const auto clip = dir.path() / "720p.ts";
  run_ffmpeg(clip_command(clip, 1280, 720, 1.0, "yuv420p", true));
  const std::string filters = "scale=910:512:flags=bilinear,crop=512:512:199:0";
  const auto expected = cli_rgb(clip, dir.path() / "expected.rgb", filters, false);
  const auto upstream_route = cli_rgb(clip, dir.path() / "expected.rgba", filters, true);
  const std::size_t frame_bytes = 512 * 512 * 3;
  BOOST_REQUIRE_EQUAL(upstream_route.size(), expected.size());
  BOOST_REQUIRE_EQUAL(expected.size() % frame_bytes, 0u);
  const std::size_t expected_frames = expected.size() / frame_bytes;
  BOOST_REQUIRE_EQUAL(expected_frames, 30u);

  int worst = 0;
  int worst_upstream_route = 0;
  std::size_t index = 0;
  Decoded out;
  StreamDecoder decoder(unlimited(), collecting(out, [&](const Frame& frame) {
                          if (index < expected_frames) {
                            const std::size_t at = index * frame_bytes;
                            worst = std::max(worst, max_abs_diff(frame.levels, expected.data() + at));
                            worst_upstream_route =
                                std::max(worst_upstream_route, max_abs_diff(frame.levels, upstream_route.data() + at));
                          }
                          ++index;
                        }));
  auto result = decoder.run(clip.string());
  BOOST_REQUIRE_MESSAGE(result, (result ? "" : result.error().message));
  BOOST_TEST(out.video.size() == expected_frames);
  BOOST_TEST_MESSAGE("720p -> 512x512 float32: max abs diff vs ffmpeg CLI rgb24 = "
                     << worst << " levels, vs CLI via rgba (upstream's route) = " << worst_upstream_route);
  BOOST_TEST(worst <= 6);
  BOOST_TEST(worst_upstream_route == 0);
  for (std::size_t i = 0; i < out.video.size(); ++i) {
    BOOST_TEST((out.shapes[i] == tensor::Tensor::Shape{1, 512, 512, 3}));
    BOOST_TEST((out.dtypes[i] == tensor::DType::float32));
    BOOST_TEST(out.video[i].exact_levels);
    BOOST_TEST(out.video[i].in_range);
    BOOST_TEST(out.video[i].time_base.num == 1);
    BOOST_TEST(out.video[i].time_base.den == 90000);
  }
  // Consecutive pts, 3000 ticks apart at 30 fps.
  for (std::size_t i = 1; i < out.video.size(); ++i) {
    BOOST_TEST(out.video[i].pts - out.video[i - 1].pts == 3000);
  }

  // Metadata, once, as upstream's dict would have it.
  BOOST_REQUIRE(out.metadata_calls == 1);
  const auto& meta = *out.metadata;
  BOOST_REQUIRE(meta.video.has_value());
  BOOST_TEST(meta.video->codec == "h264");
  BOOST_TEST(meta.video->width == 1280);
  BOOST_TEST(meta.video->height == 720);
  BOOST_TEST(meta.video->pix_fmt == "yuv420p");
  BOOST_TEST(meta.video->time_base.num == 1);
  BOOST_TEST(meta.video->time_base.den == 90000);
  BOOST_TEST(meta.video->format == "<av.VideoFormat yuv420p, 1280x720>");
  BOOST_REQUIRE(meta.video->framerate.has_value());
  BOOST_TEST(av_q2d(*meta.video->framerate) == 30.0);
  BOOST_TEST(meta.video->target_width == 512);
  BOOST_TEST(meta.video->target_height == 512);
  if (meta.video->sar) {
    BOOST_TEST(meta.video->sar->num == 1);
    BOOST_TEST(meta.video->sar->den == 1);
    BOOST_REQUIRE(meta.video->dar.has_value());
    BOOST_TEST(meta.video->dar->num == 16);
    BOOST_TEST(meta.video->dar->den == 9);
  }
  BOOST_REQUIRE(meta.audio.has_value());
  BOOST_TEST(meta.audio->codec == "aac");
  BOOST_TEST(meta.audio->sample_rate == 48000);
  BOOST_TEST(meta.audio->format == "fltp");
  BOOST_TEST(meta.audio->channels == 1);
  BOOST_TEST(meta.audio->layout == "mono");
  BOOST_TEST(meta.audio->time_base.den == 90000);

  // Audio frames as PyAV gives them: planar fltp -> (channels, nb_samples) float32.
  BOOST_REQUIRE(!out.audio.empty());
  for (const auto& frame : out.audio) {
    BOOST_TEST(frame.format == "fltp");
    BOOST_TEST(frame.layout == "mono");
    BOOST_TEST(frame.sample_rate == 48000);
    BOOST_TEST((frame.samples.shape() == tensor::Tensor::Shape{1, frame.nb_samples}));
    BOOST_TEST((frame.samples.dtype() == tensor::DType::float32));
    BOOST_TEST(frame.time_base.den == 90000);
    const auto* data = static_cast<const float*>(frame.samples.data());
    for (int i = 0; i < frame.nb_samples; ++i) {
      BOOST_TEST_REQUIRE(std::abs(data[i]) <= 1.0f);
    }
  }
  BOOST_TEST(out.audio.front().nb_samples == 1024);
}

BOOST_AUTO_TEST_CASE(uint8_without_batch_dim_holds_the_same_levels) {
  // 1280x720 goes through the crop; 512x512 is written by libswscale straight into the tensor.
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1280, 720}, {512, 512}}) {
    TempDir dir;
    const auto clip = dir.path() / "clip.ts";
    run_ffmpeg(clip_command(clip, w, h, 0.5));
    const Decoded as_float = decode_file(clip, unlimited());
    StreamDecoderOptions options = unlimited();
    options.video.dtype = tensor::DType::uint8;
    options.video.batch_dim = false;
    const Decoded as_uint8 = decode_file(clip, options);
    BOOST_REQUIRE(as_float.result.has_value());
    BOOST_REQUIRE(as_uint8.result.has_value());
    BOOST_REQUIRE_EQUAL(as_float.video.size(), as_uint8.video.size());
    BOOST_TEST(as_uint8.video.size() == 15u);
    for (std::size_t i = 0; i < as_uint8.video.size(); ++i) {
      BOOST_TEST((as_uint8.shapes[i] == tensor::Tensor::Shape{512, 512, 3}));
      BOOST_TEST((as_uint8.dtypes[i] == tensor::DType::uint8));
      BOOST_TEST((as_uint8.video[i].levels == as_float.video[i].levels));
    }
  }
}

BOOST_AUTO_TEST_CASE(portrait_odd_and_padded_sizes_follow_the_rule) {
  struct Case {
    int w, h, tw, th;
    std::string pix_fmt;
  };
  // yuv444p where a side is odd (4:2:0 needs even sizes); 1022 -> 511 leaves one black row.
  const std::vector<Case> cases{{720, 1280, 512, 512, "yuv420p"},
                                {641, 359, 512, 512, "yuv444p"},
                                {1022, 1022, 511, 511, "yuv420p"},
                                {640, 480, 320, 180, "yuv420p"},
                                {512, 512, 512, 512, "yuv420p"}};
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.w << "x" << c.h << " -> " << c.tw << "x" << c.th) {
      TempDir dir;
      const auto clip = dir.path() / "clip.ts";
      run_ffmpeg(clip_command(clip, c.w, c.h, 0.3, c.pix_fmt));
      const Geometry g = upstream_geometry(c.w, c.h, c.tw, c.th);
      // Upstream converts a picture already at the target size straight to rgb24.
      const bool scaling = c.w != c.tw || c.h != c.th;
      const auto scaled = cli_rgb(clip, dir.path() / "scaled.rgb",
                                  fmt::format("scale={}:{}:flags=bilinear", g.scaled_width, g.scaled_height), scaling);
      const std::size_t scaled_bytes = static_cast<std::size_t>(g.scaled_width) * g.scaled_height * 3;
      BOOST_REQUIRE(scaled.size() % scaled_bytes == 0);
      const Decoded out = decode_file(clip, unlimited(c.tw, c.th));
      BOOST_REQUIRE_MESSAGE(out.result, (out.result ? "" : out.result.error().message));
      BOOST_REQUIRE_EQUAL(out.video.size(), scaled.size() / scaled_bytes);
      int worst = 0;
      for (std::size_t i = 0; i < out.video.size(); ++i) {
        BOOST_TEST((out.shapes[i] == tensor::Tensor::Shape{1, c.th, c.tw, 3}));
        const auto want = crop(scaled.data() + i * scaled_bytes, g, c.tw, c.th);
        worst = std::max(worst, max_abs_diff(out.video[i].levels, want.data()));
      }
      BOOST_TEST_MESSAGE(c.w << "x" << c.h << " -> " << c.tw << "x" << c.th << " (scaled " << g.scaled_width << "x"
                             << g.scaled_height << ", crop at " << g.x0 << "," << g.y0 << "): max abs diff " << worst);
      BOOST_TEST(worst == 0);
      if (c.th == 511) {
        // The padded bottom row is black in every frame.
        const auto& levels = out.video.front().levels;
        const std::size_t row = static_cast<std::size_t>(c.tw) * 3;
        BOOST_TEST(std::all_of(levels.end() - static_cast<std::ptrdiff_t>(row), levels.end(),
                               [](std::uint8_t v) { return v == 0; }));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(frame_rate_limit_follows_media_time) {
  TempDir dir;
  const auto clip = dir.path() / "30fps.ts";
  run_ffmpeg(clip_command(clip, 320, 240, 3.0));
  const auto pts = ffprobe_video_pts(clip, dir.path() / "pts.txt");
  BOOST_REQUIRE_EQUAL(pts.size(), 90u);
  const AVRational time_base{1, 90000};

  for (int fps : {24, 10, 30, 0, -5}) {
    StreamDecoderOptions options;
    options.video.width = 64;
    options.video.height = 64;
    options.max_framerate = [fps] { return fps; };
    const Decoded out = decode_file(clip, options);
    BOOST_REQUIRE(out.result.has_value());
    const auto want = limited(pts, time_base, [fps](std::size_t) { return fps; });
    BOOST_TEST_CONTEXT("fps " << fps) {
      BOOST_TEST(pts_of(out.video) == want, boost::test_tools::per_element());
      BOOST_TEST(out.stats.video_frames_dropped == static_cast<std::int64_t>(pts.size() - want.size()));
    }
    BOOST_TEST_MESSAGE("fps limit " << fps << ": " << want.size() << " of " << pts.size() << " frames accepted");
  }

  // Lowered from 24 to 10 while running, after 20 accepted frames.
  std::atomic<int> limit{24};
  StreamDecoderOptions options;
  options.video.width = 64;
  options.video.height = 64;
  options.max_framerate = [&limit] { return limit.load(); };
  Decoded out;
  StreamDecoder decoder(options, collecting(out, [&](const Frame&) {
                          if (out.video.size() == 20) {
                            limit = 10;
                          }
                        }));
  BOOST_REQUIRE(decoder.run(clip.string()).has_value());
  const auto want = limited(pts, time_base, [](std::size_t accepted) { return accepted < 20 ? 24 : 10; });
  BOOST_TEST(pts_of(out.video) == want, boost::test_tools::per_element());
  std::string first;
  for (std::size_t i = 0; i < std::min<std::size_t>(want.size(), 30); ++i) {
    first += fmt::format("{} ", (want[i] - pts.front()) / 3000);
  }
  BOOST_TEST_MESSAGE("24 -> 10 fps after 20 frames: " << want.size() << " accepted; frame indices: " << first);
}

// B-frames (pts != dts) come out in presentation order with every threading choice, and the
// end-of-stream drain delivers the frames the decoder still holds.
BOOST_AUTO_TEST_CASE(b_frames_and_threading_give_presentation_order) {
  TempDir dir;
  const auto pts = ffprobe_video_pts(test::clips().b_frames, dir.path() / "pts.txt");
  BOOST_REQUIRE_EQUAL(pts.size(), 60u);
  std::vector<std::uint8_t> reference;
  for (auto threading : {DecoderThreading::slice, DecoderThreading::frame, DecoderThreading::frame_and_slice}) {
    StreamDecoderOptions options = unlimited(64, 64);
    options.threading = threading;
    options.thread_count = 2;
    const Decoded out = decode_file(test::clips().b_frames, options);
    BOOST_REQUIRE(out.result.has_value());
    BOOST_TEST(pts_of(out.video) == pts, boost::test_tools::per_element());
    if (reference.empty()) {
      reference = out.video.back().levels;
    } else {
      BOOST_TEST((out.video.back().levels == reference));
    }
  }
  // Upstream never flushes its decoders (the flush packet has no dts): without the drain, the
  // frames still inside the decoder at the end are missing.
  StreamDecoderOptions options = unlimited(64, 64);
  options.drain_at_end = false;
  const Decoded out = decode_file(test::clips().b_frames, options);
  BOOST_REQUIRE(out.result.has_value());
  BOOST_TEST(out.video.size() <= pts.size());
  BOOST_TEST_MESSAGE("B-frame clip without drain: " << out.video.size() << " of " << pts.size() << " frames");
  for (std::size_t i = 0; i < out.video.size(); ++i) {
    BOOST_TEST(out.video[i].pts == pts[i]);
  }
}

// NVDEC where a GPU is (pictures copied back to the host), the CPU elsewhere with a log line:
// the frames handed out are the same either way.
BOOST_AUTO_TEST_CASE(cuda_decode_gives_the_same_frames_on_any_machine) {
  StreamDecoderOptions options = unlimited(128, 128);
  const Decoded cpu = decode_file(test::clips().video_audio, options);
  options.cuda_decode = true;
  const Decoded gpu = decode_file(test::clips().video_audio, options);
  BOOST_REQUIRE(cpu.result.has_value());
  BOOST_REQUIRE_MESSAGE(gpu.result, (gpu.result ? "" : gpu.result.error().message));
  BOOST_TEST_MESSAGE("cuda_decode: decoded on the " << (gpu.stats.video_decoded_on_gpu ? "GPU" : "CPU"));
  BOOST_TEST(!cpu.stats.video_decoded_on_gpu);
  BOOST_REQUIRE_EQUAL(gpu.video.size(), cpu.video.size());
  int max_difference = 0;
  for (std::size_t i = 0; i < cpu.video.size(); ++i) {
    BOOST_TEST(gpu.video[i].pts == cpu.video[i].pts);
    for (std::size_t k = 0; k < cpu.video[i].levels.size(); ++k) {
      max_difference = std::max(max_difference, std::abs(int{gpu.video[i].levels[k]} - int{cpu.video[i].levels[k]}));
    }
  }
  // H.264 decoding is bit-exact; NV12 and yuv420p through swscale may round differently by one.
  BOOST_TEST(max_difference <= (gpu.stats.video_decoded_on_gpu ? 2 : 0));
  BOOST_TEST(gpu.audio.size() == cpu.audio.size());
}

BOOST_AUTO_TEST_CASE(byte_stream_of_segments_decodes_like_the_file) {
  TempDir dir;
  test::RecordingSink sink;
  BOOST_REQUIRE(test::segment_file(test::clips().video_audio, sink).has_value());
  BOOST_REQUIRE_GE(sink.segments.size(), 3u);
  std::vector<std::uint8_t> bytes;
  for (const auto& segment : sink.segments) {
    bytes.insert(bytes.end(), segment.bytes.begin(), segment.bytes.end());
  }
  const auto joined = dir.path() / "joined.ts";
  test::write_bytes(joined, bytes);

  StreamDecoderOptions options = unlimited(256, 256);
  const Decoded from_file = decode_file(joined, options);
  const Decoded from_stream = decode_bytes(bytes, options, 32 * 1024);
  BOOST_REQUIRE(from_file.result.has_value());
  BOOST_REQUIRE_MESSAGE(from_stream.result, (from_stream.result ? "" : from_stream.result.error().message));
  BOOST_TEST(from_stream.video.size() == 150u);
  BOOST_REQUIRE_EQUAL(from_stream.video.size(), from_file.video.size());
  for (std::size_t i = 0; i < from_file.video.size(); ++i) {
    BOOST_TEST(from_stream.video[i].pts == from_file.video[i].pts);
    BOOST_TEST((from_stream.video[i].levels == from_file.video[i].levels));
  }
  BOOST_REQUIRE_EQUAL(from_stream.audio.size(), from_file.audio.size());
  for (std::size_t i = 0; i < from_file.audio.size(); ++i) {
    BOOST_TEST(from_stream.audio[i].pts == from_file.audio[i].pts);
    BOOST_TEST(std::equal(
        static_cast<const std::uint8_t*>(from_stream.audio[i].samples.data()),
        static_cast<const std::uint8_t*>(from_stream.audio[i].samples.data()) + from_stream.audio[i].samples.nbytes(),
        static_cast<const std::uint8_t*>(from_file.audio[i].samples.data())));
  }
  BOOST_TEST(from_stream.metadata_calls == 1);
}

// Byte offsets of the TS packets that start a video PES (stream id 0xE0..0xEF), in order.
std::vector<std::size_t> video_pes_starts(const std::vector<std::uint8_t>& ts) {
  std::vector<std::size_t> starts;
  for (std::size_t offset = 0; offset + 188 <= ts.size(); offset += 188) {
    const std::uint8_t* packet = ts.data() + offset;
    if (packet[0] != 0x47 || (packet[1] & 0x40) == 0) {
      continue;
    }
    std::size_t payload = 4;
    const int adaptation = (packet[3] >> 4) & 0x3;
    if (adaptation == 2) {
      continue;
    }
    if (adaptation == 3) {
      payload += 1 + packet[4];
    }
    if (payload + 4 <= 188 && packet[payload] == 0 && packet[payload + 1] == 0 && packet[payload + 2] == 1 &&
        (packet[payload + 3] & 0xF0) == 0xE0) {
      starts.push_back(offset);
    }
  }
  return starts;
}

// Our segments give every video PES its length, so the demuxer hands a frame out with its last
// byte; with whole_frame_pes the frame is then decoded without waiting for the next one to start.
// Without it, libav's H.264 parser holds each frame until the next frame's bytes come.
BOOST_AUTO_TEST_CASE(each_frame_decodes_once_its_own_bytes_are_in) {
  test::RecordingSink sink;
  BOOST_REQUIRE(test::segment_file(test::clips().video_audio, sink).has_value());
  std::vector<std::uint8_t> bytes;
  for (const auto& segment : sink.segments) {
    bytes.insert(bytes.end(), segment.bytes.begin(), segment.bytes.end());
  }
  const auto starts = video_pes_starts(bytes);
  BOOST_REQUIRE_EQUAL(starts.size(), 150u);

  // Number of frames delivered after the bytes up to (not including) video PES `until` are in,
  // waiting at most `patience` for them.
  auto feed_frame_by_frame = [&](bool whole_frame_pes, std::chrono::milliseconds patience) {
    StreamDecoderOptions options = unlimited(64, 64);
    options.whole_frame_pes = whole_frame_pes;
    ByteStream stream(bytes.size());
    std::atomic<std::size_t> delivered{0};
    Decoded out;
    StreamDecoder decoder(options, collecting(out, [&](const Frame&) { ++delivered; }));
    auto running = std::async(std::launch::async, [&] { return decoder.run(stream); });
    auto push_until = [&](std::size_t from, std::size_t to) {
      return stream.push(
          std::vector<std::uint8_t>(bytes.begin() + static_cast<long>(from), bytes.begin() + static_cast<long>(to)));
    };
    auto wait_for = [&](std::size_t frames, std::chrono::milliseconds limit) {
      const auto deadline = std::chrono::steady_clock::now() + limit;
      while (delivered.load() < frames && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return delivered.load();
    };
    // The first 30 frames in one go (the demuxer probes the stream's first 0.2 s).
    BOOST_REQUIRE(push_until(0, starts[30]));
    std::vector<std::size_t> counts;
    counts.push_back(wait_for(whole_frame_pes ? 30 : 29, std::chrono::seconds(10)));
    // Then one frame's bytes at a time.
    for (std::size_t k = 30; k < 40; ++k) {
      BOOST_REQUIRE(push_until(starts[k], starts[k + 1]));
      counts.push_back(wait_for(k + 1, patience));
    }
    BOOST_REQUIRE(push_until(starts[40], bytes.size()));
    stream.close();
    BOOST_REQUIRE(running.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    BOOST_REQUIRE(running.get().has_value());
    return std::pair{counts, pts_of(out.video)};
  };

  const auto [whole_counts, whole_pts] = feed_frame_by_frame(true, std::chrono::seconds(10));
  BOOST_TEST(whole_counts.front() == 30u);
  for (std::size_t i = 1; i < whole_counts.size(); ++i) {
    BOOST_TEST(whole_counts[i] == 30u + i);  // frame k out before a byte of frame k + 1 is in
  }
  // libav's own framing: each frame is one behind (no bytes of the next one, no frame).
  const auto [parsed_counts, parsed_pts] = feed_frame_by_frame(false, std::chrono::milliseconds(200));
  for (std::size_t i = 0; i < parsed_counts.size(); ++i) {
    BOOST_TEST(parsed_counts[i] == 30u + i - 1);
  }
  // Same frames either way, none lost where the parser was switched over.
  BOOST_TEST(whole_pts.size() == 150u);
  BOOST_TEST(whole_pts == parsed_pts, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(abort_ends_a_waiting_decoder_quickly) {
  const auto bytes = test::read_bytes(test::clips().video_audio);
  ByteStream stream;
  Decoded out;
  std::atomic<std::size_t> delivered{0};
  StreamDecoder decoder(unlimited(64, 64), collecting(out, [&](const Frame&) { ++delivered; }));
  auto running = std::async(std::launch::async, [&] { return decoder.run(stream); });
  // Half the clip, then silence: the decoder is left waiting for more bytes.
  BOOST_REQUIRE(stream.push(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (delivered.load() < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto start = std::chrono::steady_clock::now();
  stream.abort();
  BOOST_REQUIRE(running.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto result = running.get();
  BOOST_TEST(!result.has_value());
  BOOST_TEST(out.video.size() >= 10u);
  BOOST_TEST_MESSAGE("abort -> run() returned in "
                     << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
                     << " us: " << (result ? "" : result.error().message));
  BOOST_TEST(!stream.push({1, 2, 3}));  // producers learn the stream is gone
}

BOOST_AUTO_TEST_CASE(request_stop_ends_a_decoder_waiting_for_bytes) {
  const auto bytes = test::read_bytes(test::clips().video_audio);
  ByteStream stream;
  std::atomic<std::size_t> delivered{0};
  Decoded out;
  StreamDecoder decoder(unlimited(64, 64), collecting(out, [&](const Frame&) { ++delivered; }));
  auto running = std::async(std::launch::async, [&] { return decoder.run(stream); });
  BOOST_REQUIRE(stream.push(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (delivered.load() < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  decoder.request_stop();
  BOOST_REQUIRE(running.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  BOOST_TEST(!running.get().has_value());
  BOOST_TEST(stream.aborted());
}

BOOST_AUTO_TEST_CASE(abort_releases_a_blocked_producer) {
  ByteStream stream(100);
  BOOST_REQUIRE(stream.push(std::vector<std::uint8_t>(100, 0)));
  std::vector<std::uint8_t> more(10, 0);
  BOOST_TEST(!stream.try_push(more));
  BOOST_TEST(more.size() == 10u);  // left to the caller when refused
  auto blocked = std::async(std::launch::async, [&] { return stream.push(std::vector<std::uint8_t>(10, 0)); });
  BOOST_TEST((blocked.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout));
  stream.abort();
  BOOST_REQUIRE(blocked.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  BOOST_TEST(!blocked.get());
  std::uint8_t buffer[4];
  BOOST_TEST((stream.read(buffer).status == ByteStream::ReadStatus::aborted));
}

BOOST_AUTO_TEST_CASE(close_drains_then_ends) {
  ByteStream stream(8);
  std::vector<std::uint8_t> got_first;
  BOOST_REQUIRE(stream.push({1, 2, 3}));
  // Larger than the capacity: refused while bytes are queued, accepted into an empty queue.
  std::vector<std::uint8_t> big{4, 5, 6, 7, 8, 9, 10, 11, 12};
  BOOST_TEST(!stream.try_push(big));
  std::uint8_t first[3];
  BOOST_REQUIRE(stream.read(first).bytes == 3u);
  BOOST_REQUIRE(stream.try_push(big));
  got_first.assign(first, first + 3);
  stream.close();
  BOOST_TEST(!stream.push({13}));
  std::uint8_t buffer[5];
  std::vector<std::uint8_t> got = got_first;
  for (;;) {
    const auto result = stream.read(buffer);
    if (result.status != ByteStream::ReadStatus::data) {
      BOOST_TEST((result.status == ByteStream::ReadStatus::end));
      break;
    }
    got.insert(got.end(), buffer, buffer + result.bytes);
  }
  BOOST_TEST((got == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
}

BOOST_AUTO_TEST_CASE(bad_input_gives_errors_not_crashes_or_hangs) {
  // Garbage.
  std::mt19937 random(7);
  std::vector<std::uint8_t> garbage(200 * 1024);
  for (auto& b : garbage) {
    b = static_cast<std::uint8_t>(random());
  }
  {
    const Decoded out = decode_bytes(garbage, unlimited(64, 64));
    BOOST_TEST(!out.result.has_value());
    BOOST_TEST(out.metadata_calls == 0);
    BOOST_TEST(out.video.empty());
    BOOST_TEST_MESSAGE("garbage: " << (out.result ? "ok" : out.result.error().message));
  }
  // Empty stream: closed before any byte.
  {
    const Decoded out = decode_bytes({}, unlimited(64, 64));
    BOOST_TEST(!out.result.has_value());
    BOOST_TEST(out.metadata_calls == 0);
    BOOST_TEST_MESSAGE("empty: " << (out.result ? "ok" : out.result.error().message));
  }
  // Truncated mid-packet: the frames before the cut, then a clean end.
  {
    auto bytes = test::read_bytes(test::clips().video_audio);
    const Decoded full = decode_bytes(bytes, unlimited(64, 64));
    bytes.resize(bytes.size() * 3 / 5 + 77);
    const Decoded out = decode_bytes(bytes, unlimited(64, 64));
    BOOST_TEST(out.result.has_value());
    BOOST_TEST(!out.video.empty());
    BOOST_TEST(out.video.size() < full.video.size());
    for (std::size_t i = 0; i < out.video.size(); ++i) {
      BOOST_TEST(out.video[i].pts == full.video[i].pts);
    }
    BOOST_TEST_MESSAGE("truncated at 60%: " << out.video.size() << " of " << full.video.size() << " frames");
  }
  // Audio only: metadata without video, audio frames, no video frames.
  {
    const Decoded out = decode_bytes(test::read_bytes(test::clips().audio_only), unlimited());
    BOOST_REQUIRE(out.result.has_value());
    BOOST_REQUIRE(out.metadata.has_value());
    BOOST_TEST(!out.metadata->video.has_value());
    BOOST_TEST(out.metadata->audio.has_value());
    BOOST_TEST(out.video.empty());
    BOOST_TEST(out.audio.size() > 200u);  // 5 s of 1024-sample frames at 48 kHz
  }
  // A file that does not exist.
  {
    const Decoded out = decode_file("/nonexistent/clip.ts", unlimited());
    BOOST_TEST(!out.result.has_value());
  }
  // Garbage in the middle of a good stream: decoding goes on after it.
  {
    auto bytes = test::read_bytes(test::clips().video_audio);
    const std::size_t at = bytes.size() / 2;
    for (std::size_t i = 0; i < 20000; ++i) {
      bytes[at + i] = static_cast<std::uint8_t>(random());
    }
    const Decoded out = decode_bytes(bytes, unlimited(64, 64));
    BOOST_TEST(out.result.has_value());
    BOOST_TEST(out.video.size() > 100u);
    BOOST_TEST_MESSAGE("20 kB of garbage mid-stream: " << out.video.size() << " frames, " << out.stats.decode_errors
                                                       << " decode errors");
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace trickle::media
