// StreamEncoder checked from the outside: its segments are decoded again with libav (never with
// our own decoder's help for the output side) and compared with what went in.

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "float_test_pictures.hpp"
#include "media_test_support.hpp"
#include "trickle/media/av_ptr.hpp"
#include "trickle/media/stream_decoder.hpp"
#include "trickle/media/stream_encoder.hpp"
#include "trickle/media/tensor_to_rgb.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

namespace trickle::media {
namespace {

using test::RecordingSink;
using test::TempDir;

constexpr AVRational out_base{1, 90000};

struct OutputFrame {
  std::int64_t pts = 0;
  std::vector<std::uint8_t> luma;  // width x height, no padding
  std::vector<std::uint8_t> rgb;   // width x height x 3
};

struct Output {
  int width = 0;
  int height = 0;
  std::vector<OutputFrame> video;
  std::vector<bool> video_packet_keys;  // in file order
  AVCodecID audio_codec = AV_CODEC_ID_NONE;
  int audio_rate = 0;
  int audio_channels = 0;
  std::int64_t audio_frames = 0;
  std::int64_t audio_samples = 0;
  int decode_errors = 0;
};

// Demuxes and decodes a file with plain libav calls.
Output decode_output(const std::filesystem::path& file) {
  Output out;
  AVFormatContext* raw = nullptr;
  BOOST_REQUIRE(avformat_open_input(&raw, file.string().c_str(), nullptr, nullptr) == 0);
  AvInputContextPtr context{raw};
  BOOST_REQUIRE(avformat_find_stream_info(context.get(), nullptr) >= 0);
  const int video_index = av_find_best_stream(context.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const int audio_index = av_find_best_stream(context.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  BOOST_REQUIRE(video_index >= 0);
  auto open_decoder = [&](int index) {
    const AVCodecParameters* parameters = context->streams[index]->codecpar;
    const AVCodec* codec = avcodec_find_decoder(parameters->codec_id);
    BOOST_REQUIRE(codec != nullptr);
    AvCodecContextPtr decoder{avcodec_alloc_context3(codec)};
    BOOST_REQUIRE(avcodec_parameters_to_context(decoder.get(), parameters) >= 0);
    decoder->pkt_timebase = context->streams[index]->time_base;
    BOOST_REQUIRE(avcodec_open2(decoder.get(), codec, nullptr) == 0);
    return decoder;
  };
  AvCodecContextPtr video = open_decoder(video_index);
  AvCodecContextPtr audio;
  if (audio_index >= 0) {
    audio = open_decoder(audio_index);
    out.audio_codec = audio->codec_id;
    out.audio_rate = audio->sample_rate;
    out.audio_channels = audio->ch_layout.nb_channels;
  }
  const AVRational video_base = context->streams[video_index]->time_base;
  AvFramePtr frame = make_av_frame();
  AvPacketPtr packet = make_av_packet();
  SwsContext* scaler = nullptr;
  auto receive = [&](AVCodecContext& decoder, bool is_video) {
    while (avcodec_receive_frame(&decoder, frame.get()) == 0) {
      if (!is_video) {
        ++out.audio_frames;
        out.audio_samples += frame->nb_samples;
        continue;
      }
      out.width = frame->width;
      out.height = frame->height;
      OutputFrame picture;
      picture.pts = av_rescale_q(frame->pts, video_base, out_base);
      picture.luma.resize(static_cast<std::size_t>(frame->width) * frame->height);
      for (int y = 0; y < frame->height; ++y) {
        std::memcpy(picture.luma.data() + static_cast<std::size_t>(y) * frame->width,
                    frame->data[0] + static_cast<std::ptrdiff_t>(y) * frame->linesize[0], frame->width);
      }
      picture.rgb.resize(picture.luma.size() * 3);
      scaler =
          sws_getCachedContext(scaler, frame->width, frame->height, static_cast<AVPixelFormat>(frame->format),
                               frame->width, frame->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
      std::uint8_t* planes[4] = {picture.rgb.data(), nullptr, nullptr, nullptr};
      int strides[4] = {frame->width * 3, 0, 0, 0};
      sws_scale(scaler, frame->data, frame->linesize, 0, frame->height, planes, strides);
      out.video.push_back(std::move(picture));
    }
  };
  while (av_read_frame(context.get(), packet.get()) >= 0) {
    if (packet->stream_index == video_index) {
      out.video_packet_keys.push_back((packet->flags & AV_PKT_FLAG_KEY) != 0);
      if (avcodec_send_packet(video.get(), packet.get()) < 0) ++out.decode_errors;
      receive(*video, true);
    } else if (audio && packet->stream_index == audio_index) {
      if (avcodec_send_packet(audio.get(), packet.get()) < 0) ++out.decode_errors;
      receive(*audio, false);
    }
    av_packet_unref(packet.get());
  }
  avcodec_send_packet(video.get(), nullptr);
  receive(*video, true);
  if (audio) {
    avcodec_send_packet(audio.get(), nullptr);
    receive(*audio, false);
  }
  sws_freeContext(scaler);
  return out;
}

std::vector<std::uint8_t> concatenated(const RecordingSink& sink) {
  std::vector<std::uint8_t> all;
  for (const auto& segment : sink.segments) {
    all.insert(all.end(), segment.bytes.begin(), segment.bytes.end());
  }
  return all;
}

Output decode_sink(const RecordingSink& sink, const TempDir& dir, const std::string& name) {
  const auto file = dir.path() / name;
  test::write_bytes(file, concatenated(sink));
  return decode_output(file);
}

double psnr(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double squared = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    squared += d * d;
  }
  const double mse = squared / static_cast<double>(a.size());
  return mse == 0 ? 100.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

double mean(const std::vector<std::uint8_t>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// A different smooth gradient in each channel (R along x, G along y, B along the diagonal), so
// layout mistakes show while 4:2:0 chroma subsampling loses little.
std::vector<std::uint8_t> pattern(int width, int height, int channels, int seed = 0) {
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int values[4] = {20 + x * 200 / width + seed % 30, 30 + y * 190 / height,
                             40 + (x + y) * 160 / (width + height), 255 - x * 100 / width};
      for (int c = 0; c < channels; ++c) {
        pixels[(static_cast<std::size_t>(y) * width + x) * channels + c] = static_cast<std::uint8_t>(values[c]);
      }
    }
  }
  return pixels;
}

tensor::Tensor uint8_tensor(const std::vector<std::uint8_t>& pixels, tensor::Tensor::Shape shape) {
  tensor::Tensor tensor = tensor::Tensor::empty(std::move(shape), tensor::DType::uint8);
  std::memcpy(tensor.data(), pixels.data(), pixels.size());
  return tensor;
}

tensor::Tensor float_tensor(const std::vector<std::uint8_t>& pixels, tensor::Tensor::Shape shape) {
  tensor::Tensor tensor = tensor::Tensor::empty(std::move(shape), tensor::DType::float32);
  auto* data = tensor.data_as<float>();
  for (std::size_t i = 0; i < pixels.size(); ++i) data[i] = static_cast<float>(pixels[i]) / 255.0f;
  return tensor;
}

tensor::Tensor filled_float(int width, int height, float value) {
  tensor::Tensor tensor = tensor::Tensor::empty({height, width, 3}, tensor::DType::float32);
  std::fill_n(tensor.data_as<float>(), tensor.numel(), value);
  return tensor;
}

// Encodes the tensors as frames 1/30 s apart (video only) and decodes the result.
Output encode_and_decode(const std::vector<tensor::Tensor>& frames, const TempDir& dir, const std::string& name,
                         StreamEncoderOptions options = {}) {
  options.with_audio = false;
  RecordingSink sink;
  StreamEncoder encoder(options, sink);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto result = encoder.encode_video(frames[i], static_cast<std::int64_t>(i) * 3000, out_base);
    BOOST_REQUIRE_MESSAGE(result, (result ? "" : result.error().message));
  }
  BOOST_REQUIRE(encoder.finish());
  BOOST_REQUIRE(sink.protocol_errors.empty());
  return decode_sink(sink, dir, name);
}

DecodedAudioFrame sine_audio(std::int64_t pts_48k, int samples = 1024, int channels = 2) {
  DecodedAudioFrame frame;
  frame.samples = tensor::Tensor::empty({channels, samples}, tensor::DType::float32);
  auto* data = frame.samples.data_as<float>();
  for (int c = 0; c < channels; ++c) {
    for (int i = 0; i < samples; ++i) {
      data[c * samples + i] =
          0.3f * static_cast<float>(std::sin(2 * M_PI * 440.0 * static_cast<double>(pts_48k + i) / 48000.0));
    }
  }
  frame.nb_samples = samples;
  frame.format = "fltp";
  frame.layout = channels == 1 ? "mono" : "stereo";
  frame.sample_rate = 48000;
  frame.channels = channels;
  frame.pts = pts_48k;
  frame.time_base = AVRational{1, 48000};
  return frame;
}

BOOST_AUTO_TEST_SUITE(stream_encoder)

BOOST_AUTO_TEST_CASE(round_trip_through_decoder_and_encoder) {
  TempDir dir;
  const auto clip = dir.path() / "clip.ts";
  test::run_ffmpeg(
      fmt::format("-f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440:sample_rate=44100 "
                  "-t 6 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -sc_threshold 0 -g 60 -keyint_min 60 "
                  "-bf 0 -c:a aac -ac 2 -f mpegts {}",
                  clip.string()));

  struct InputFrame {
    std::int64_t pts = 0;
    std::vector<std::uint8_t> rgb;
  };
  std::vector<InputFrame> inputs;
  RecordingSink sink;
  StreamEncoder encoder({}, sink);
  int encode_failures = 0;
  std::int64_t audio_in = 0;

  StreamDecoderOptions options;
  options.video.width = 320;
  options.video.height = 240;
  options.video.dtype = tensor::DType::uint8;
  options.max_framerate = [] { return 1000; };
  options.drain_at_end = true;
  StreamDecoderCallbacks callbacks;
  callbacks.on_video = [&](DecodedVideoFrame frame) {
    InputFrame input;
    input.pts = av_rescale_q(frame.pts, frame.time_base, out_base);
    const auto* data = static_cast<const std::uint8_t*>(frame.tensor.data());
    input.rgb.assign(data, data + frame.tensor.numel());
    inputs.push_back(std::move(input));
    if (!encoder.encode_video(frame.tensor, frame.pts, frame.time_base)) ++encode_failures;
  };
  callbacks.on_audio = [&](DecodedAudioFrame frame) {
    ++audio_in;
    if (!encoder.encode_audio(frame)) ++encode_failures;
  };
  StreamDecoder decoder(options, callbacks);
  BOOST_REQUIRE(decoder.run(clip.string()));
  BOOST_REQUIRE(encoder.finish());
  BOOST_CHECK_EQUAL(encode_failures, 0);
  BOOST_CHECK(sink.protocol_errors.empty());
  BOOST_REQUIRE_EQUAL(inputs.size(), 180u);
  BOOST_CHECK_GT(audio_in, 0);

  const auto& stats = encoder.stats();
  BOOST_CHECK_EQUAL(stats.video_frames_in, 180);
  BOOST_CHECK_EQUAL(stats.video_frames_encoded, 180);
  BOOST_CHECK_EQUAL(stats.video_packets_out, 180);
  BOOST_CHECK_EQUAL(stats.key_frames_forced, 3);
  BOOST_CHECK_EQUAL(stats.video_dropped_av_sync, 0);
  BOOST_CHECK_EQUAL(stats.audio_dropped_av_sync, 0);
  BOOST_CHECK_GT(stats.audio_packets_out, 250);  // 6 s of 20 ms packets, less the edges

  // One segment per 2 s GOP, each starting with a key frame and decodable on its own.
  BOOST_REQUIRE_EQUAL(sink.segments.size(), 3u);
  BOOST_CHECK_EQUAL(stats.segments, 3);
  const auto files = test::write_segments(dir.path(), sink.segments);
  std::size_t frames_in_segments = 0;
  std::size_t total_bytes = 0;
  for (std::size_t k = 0; k < files.size(); ++k) {
    const Output alone = decode_output(files[k]);
    BOOST_REQUIRE(!alone.video_packet_keys.empty());
    BOOST_CHECK_MESSAGE(alone.video_packet_keys.front(), "segment " << k << " starts with a key frame");
    BOOST_CHECK_EQUAL(std::count(alone.video_packet_keys.begin(), alone.video_packet_keys.end(), true), 1);
    BOOST_CHECK_EQUAL(alone.video.size(), alone.video_packet_keys.size());
    BOOST_CHECK_EQUAL(alone.decode_errors, 0);
    frames_in_segments += alone.video.size();
    total_bytes += sink.segments[k].bytes.size();
    BOOST_TEST_MESSAGE(
        fmt::format("segment {}: {} bytes, {} frames", k, sink.segments[k].bytes.size(), alone.video.size()));
  }
  BOOST_CHECK_EQUAL(frames_in_segments, 180u);

  const Output out = decode_sink(sink, dir, "all.ts");
  BOOST_CHECK_EQUAL(out.width, 320);
  BOOST_CHECK_EQUAL(out.height, 240);
  BOOST_REQUIRE_EQUAL(out.video.size(), inputs.size());
  double worst = 1000;
  double total = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    BOOST_CHECK_EQUAL(out.video[i].pts, inputs[i].pts);
    const double value = psnr(out.video[i].rgb, inputs[i].rgb);
    worst = std::min(worst, value);
    total += value;
  }
  BOOST_TEST_MESSAGE(fmt::format("round trip: {} bytes, RGB PSNR mean {:.2f} dB, worst {:.2f} dB", total_bytes,
                                 total / inputs.size(), worst));
  // Measured 2026-11-21: see the report; x264 CRF 23 on testsrc2 stays well above 30 dB.
  BOOST_CHECK_GT(worst, 30.0);

  BOOST_CHECK_EQUAL(out.audio_codec, AV_CODEC_ID_OPUS);
  BOOST_CHECK_EQUAL(out.audio_rate, 48000);
  BOOST_CHECK_EQUAL(out.audio_channels, 1);
  BOOST_CHECK_GT(out.audio_samples, 48000 * 5);
}

BOOST_AUTO_TEST_CASE(every_accepted_layout_encodes_the_same_picture) {
  TempDir dir;
  constexpr int w = 64;
  constexpr int h = 48;
  const auto rgb = pattern(w, h, 3);
  const Output reference = encode_and_decode({uint8_tensor(rgb, {h, w, 3})}, dir, "ref.ts");
  BOOST_REQUIRE_EQUAL(reference.video.size(), 1u);
  BOOST_CHECK_EQUAL(reference.width, w);
  BOOST_CHECK_EQUAL(reference.audio_codec, AV_CODEC_ID_NONE);  // with_audio = false: video only
  const double reference_psnr = psnr(reference.video[0].rgb, rgb);
  BOOST_TEST_MESSAGE(fmt::format("layout reference RGB PSNR {:.2f} dB", reference_psnr));
  BOOST_CHECK_GT(reference_psnr, 35.0);

  auto same_as_reference = [&](const tensor::Tensor& tensor, const std::string& name) {
    const Output out = encode_and_decode({tensor}, dir, name + ".ts");
    BOOST_REQUIRE_EQUAL(out.video.size(), 1u);
    BOOST_CHECK_MESSAGE(out.video[0].luma == reference.video[0].luma, name << " differs");
    BOOST_CHECK_MESSAGE(out.video[0].rgb == reference.video[0].rgb, name << " differs");
  };
  same_as_reference(float_tensor(rgb, {1, h, w, 3}), "float_batch");
  same_as_reference(uint8_tensor(rgb, {1, h, w, 3}), "uint8_batch");

  // RGBA: the alpha channel is dropped.
  std::vector<std::uint8_t> rgba(static_cast<std::size_t>(w) * h * 4);
  for (std::size_t p = 0; p < static_cast<std::size_t>(w) * h; ++p) {
    std::copy_n(rgb.begin() + p * 3, 3, rgba.begin() + p * 4);
    rgba[p * 4 + 3] = static_cast<std::uint8_t>(p * 13);
  }
  same_as_reference(uint8_tensor(rgba, {h, w, 4}), "rgba");

  // A strided view inside a larger buffer: padded rows, pixels 5 bytes apart (channels 0-2 of
  // each 5-byte pixel are the picture; the rest is filler the encoder must not read).
  const int pitch = (w + 3) * 5;
  auto big = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(h + 2) * pitch, 0xAB);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        (*big)[static_cast<std::size_t>(y + 1) * pitch + x * 5 + c] =
            rgb[(static_cast<std::size_t>(y) * w + x) * 3 + c];
      }
    }
  }
  tensor::Tensor view = tensor::Tensor::from_blob(big->data() + pitch, {h, w, 3}, {pitch, 5, 1}, tensor::DType::uint8,
                                                  tensor::Device::cpu(), [big] {});
  BOOST_REQUIRE(!view.is_contiguous());
  same_as_reference(view, "strided");

  // One channel: replicated to grey RGB.
  const auto grey = pattern(w, h, 1);
  std::vector<std::uint8_t> grey_rgb(grey.size() * 3);
  for (std::size_t p = 0; p < grey.size(); ++p) std::fill_n(grey_rgb.begin() + p * 3, 3, grey[p]);
  const Output grey_reference = encode_and_decode({uint8_tensor(grey_rgb, {h, w, 3})}, dir, "grey_ref.ts");
  const Output grey_out = encode_and_decode({uint8_tensor(grey, {h, w, 1})}, dir, "grey.ts");
  BOOST_REQUIRE_EQUAL(grey_out.video.size(), 1u);
  BOOST_CHECK(grey_out.video[0].luma == grey_reference.video[0].luma);
}

BOOST_AUTO_TEST_CASE(float_values_outside_unit_range_are_clamped) {
  TempDir dir;
  // Upstream wraps 2.0 * 255 = 510 to 254 and -255 to 1 (docs/compatibility.md Q7); clamped, they are white and black.
  const Output white = encode_and_decode({filled_float(64, 48, 2.0f)}, dir, "white.ts");
  const Output black = encode_and_decode({filled_float(64, 48, -1.0f)}, dir, "black.ts");
  BOOST_REQUIRE_EQUAL(white.video.size(), 1u);
  BOOST_REQUIRE_EQUAL(black.video.size(), 1u);
  BOOST_TEST_MESSAGE(
      fmt::format("white luma {:.1f}, black luma {:.1f}", mean(white.video[0].luma), mean(black.video[0].luma)));
  BOOST_CHECK_GT(mean(white.video[0].luma), 233.0);  // limited range: white is 235
  BOOST_CHECK_LT(mean(black.video[0].luma), 18.0);   // and black 16
  // uint8 is taken as levels, not multiplied by 255 (upstream's other half of docs/compatibility.md Q7).
  std::vector<std::uint8_t> levels(64 * 48 * 3, 128);
  const Output mid = encode_and_decode({uint8_tensor(levels, {48, 64, 3})}, dir, "mid.ts");
  BOOST_CHECK_CLOSE(mean(mid.video[0].luma), 16 + 128 * 219.0 / 255, 2.0);
}

// The contiguous float fast path (SIMD) and the strided path (one value at a time) give the same
// levels for every value, special ones included.
BOOST_AUTO_TEST_CASE(float_levels_are_the_same_on_every_path) {
  const int height = 37, width = 41;  // odd sizes: the SIMD loop's tail runs too
  const std::size_t count = static_cast<std::size_t>(height) * width * 3;
  std::vector<float> hwc = test::float_values_with_specials(count, 7, 3);
  // The same values laid out channel-planar, seen as H x W x 3 through strides.
  std::vector<float> planar = test::channel_planar(hwc, height, width);
  const tensor::Tensor contiguous =
      tensor::Tensor::from_blob(hwc.data(), {height, width, 3}, {}, tensor::DType::float32, tensor::Device::cpu(), {});
  const tensor::Tensor strided = test::planar_view(planar, height, width);
  std::vector<std::uint8_t> fast, slow;
  BOOST_REQUIRE(tensor_to_rgb24(contiguous, fast).has_value());
  BOOST_REQUIRE(tensor_to_rgb24(strided, slow).has_value());
  BOOST_TEST(fast == slow, boost::test_tools::per_element());
  BOOST_TEST(fast[3] == 0);    // NaN
  BOOST_TEST(fast[4] == 0);    // -inf
  BOOST_TEST(fast[5] == 255);  // +inf
  BOOST_TEST(fast[6] == 1);    // half a level rounds up
  BOOST_TEST(fast[7] == 255);
}

BOOST_AUTO_TEST_CASE(unreadable_tensors_are_errors_and_the_stream_goes_on) {
  TempDir dir;
  RecordingSink sink;
  StreamEncoderOptions options;
  options.with_audio = false;
  StreamEncoder encoder(options, sink);
  const auto rgb = pattern(64, 48, 3);
  std::int64_t pts = 0;
  auto good = [&] {
    auto result = encoder.encode_video(uint8_tensor(rgb, {48, 64, 3}), pts, out_base);
    pts += 3000;
    return static_cast<bool>(result);
  };
  auto expect_error = [&](const tensor::Tensor& tensor, const std::string& words) {
    auto result = encoder.encode_video(tensor, pts, out_base);
    pts += 3000;
    BOOST_REQUIRE(!result);
    BOOST_TEST_MESSAGE(result.error().message);
    BOOST_CHECK_MESSAGE(result.error().message.find(words) != std::string::npos,
                        "'" << result.error().message << "' names '" << words << "'");
  };
  // Before any good frame (nothing opened yet) and after.
  expect_error(tensor::Tensor::zeros({3, 48, 64}, tensor::DType::float32), "channels");
  BOOST_REQUIRE(good());
  expect_error(tensor::Tensor::zeros({3, 48, 64}, tensor::DType::float32), "CHW");
  expect_error(tensor::Tensor::zeros({48, 64}, tensor::DType::float32), "rank 2");
  expect_error(tensor::Tensor::zeros({1, 1, 48, 64, 3}, tensor::DType::float32), "rank 5");
  expect_error(tensor::Tensor::zeros({48, 64, 2}, tensor::DType::uint8), "2 channels");
  expect_error(tensor::Tensor::zeros({48, 64, 3}, tensor::DType::int16), "int16");
  expect_error(tensor::Tensor::zeros({0, 64, 3}, tensor::DType::uint8), "empty");
  expect_error(tensor::Tensor::zeros({2, 48, 64, 3}, tensor::DType::uint8), "batch");
  expect_error(tensor::Tensor{}, "undefined");
  BOOST_REQUIRE(good());
  BOOST_REQUIRE(good());
  BOOST_REQUIRE(encoder.finish());
  BOOST_CHECK_EQUAL(encoder.stats().video_dropped_invalid, 9);
  BOOST_CHECK_EQUAL(encoder.stats().video_frames_encoded, 3);
  const Output out = decode_sink(sink, dir, "out.ts");
  BOOST_CHECK_EQUAL(out.video.size(), 3u);
}

BOOST_AUTO_TEST_CASE(odd_first_frame_is_cropped_to_even_size) {
  TempDir dir;
  const auto odd = pattern(321, 241, 3);
  std::vector<tensor::Tensor> frames{uint8_tensor(odd, {241, 321, 3}), uint8_tensor(odd, {241, 321, 3})};
  // A later frame of another size is scaled to the stream's.
  frames.push_back(uint8_tensor(pattern(160, 120, 3), {120, 160, 3}));
  RecordingSink sink;
  StreamEncoderOptions options;
  options.with_audio = false;
  StreamEncoder encoder(options, sink);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    BOOST_REQUIRE(encoder.encode_video(frames[i], static_cast<std::int64_t>(i), AVRational{1, 30}));
  }
  BOOST_CHECK_EQUAL(encoder.width(), 320);
  BOOST_CHECK_EQUAL(encoder.height(), 240);
  BOOST_REQUIRE(encoder.finish());
  BOOST_CHECK_EQUAL(encoder.stats().video_frames_resized, 1);
  const Output out = decode_sink(sink, dir, "odd.ts");
  BOOST_CHECK_EQUAL(out.width, 320);
  BOOST_CHECK_EQUAL(out.height, 240);
  BOOST_REQUIRE_EQUAL(out.video.size(), 3u);
  BOOST_CHECK_EQUAL(out.video[1].pts, 3000);
  // The crop keeps the top-left 320x240 of the picture.
  std::vector<std::uint8_t> cropped;
  for (int y = 0; y < 240; ++y) {
    cropped.insert(cropped.end(), odd.begin() + y * 321 * 3, odd.begin() + y * 321 * 3 + 320 * 3);
  }
  const double crop_psnr = psnr(out.video[0].rgb, cropped);
  BOOST_TEST_MESSAGE(fmt::format("odd-size crop RGB PSNR {:.2f} dB", crop_psnr));
  BOOST_CHECK_GT(crop_psnr, 35.0);

  // A fixed size in the options, odd too.
  StreamEncoderOptions fixed;
  fixed.with_audio = false;
  fixed.width = 101;
  fixed.height = 75;
  RecordingSink fixed_sink;
  StreamEncoder fixed_encoder(fixed, fixed_sink);
  BOOST_REQUIRE(fixed_encoder.encode_video(frames[0], 0, out_base));
  BOOST_REQUIRE(fixed_encoder.finish());
  const Output fixed_out = decode_sink(fixed_sink, dir, "fixed.ts");
  BOOST_CHECK_EQUAL(fixed_out.width, 100);
  BOOST_CHECK_EQUAL(fixed_out.height, 74);
}

BOOST_AUTO_TEST_CASE(key_frames_every_gop_of_media_time_starting_at_pts_zero) {
  TempDir dir;
  RecordingSink sink;
  StreamEncoderOptions options;
  options.with_audio = false;
  StreamEncoder encoder(options, sink);
  // 5 s at 10 fps starting at 0: key frames at 0, 2 and 4 s only (docs/compatibility.md Q32: pts 0 is a real time).
  for (int i = 0; i < 50; ++i) {
    BOOST_REQUIRE(encoder.encode_video(uint8_tensor(pattern(64, 48, 3, i), {48, 64, 3}), i, {1, 10}));
  }
  BOOST_REQUIRE(encoder.finish());
  BOOST_CHECK_EQUAL(encoder.stats().key_frames_forced, 3);
  BOOST_CHECK_EQUAL(sink.segments.size(), 3u);
  const Output out = decode_sink(sink, dir, "gop.ts");
  BOOST_CHECK_EQUAL(std::count(out.video_packet_keys.begin(), out.video_packet_keys.end(), true), 3);
  BOOST_REQUIRE_EQUAL(out.video.size(), 50u);
  BOOST_CHECK_EQUAL(out.video[49].pts, 49 * 9000);
}

// Asking for NVENC where it cannot open (no GPU here; elsewhere it opens) still gives a stream:
// the configured software encoder takes over, with the same segments and key frames.
BOOST_AUTO_TEST_CASE(nvenc_preference_falls_back_to_the_software_encoder) {
  TempDir dir;
  RecordingSink sink;
  StreamEncoderOptions options;
  options.with_audio = false;
  options.prefer_nvenc = true;
  StreamEncoder encoder(options, sink);
  BOOST_TEST(encoder.video_encoder().empty());
  for (int i = 0; i < 30; ++i) {
    BOOST_REQUIRE(encoder.encode_video(uint8_tensor(pattern(64, 48, 3, i), {48, 64, 3}), i, {1, 10}));
  }
  BOOST_REQUIRE(encoder.finish());
  BOOST_TEST_MESSAGE("prefer_nvenc: encoded with " << encoder.video_encoder());
  BOOST_TEST((encoder.video_encoder() == "h264_nvenc" || encoder.video_encoder() == "libx264"));
  BOOST_CHECK_EQUAL(encoder.stats().key_frames_forced, 2);
  BOOST_CHECK_EQUAL(sink.segments.size(), 2u);
  const Output out = decode_sink(sink, dir, "nvenc.ts");
  BOOST_REQUIRE_EQUAL(out.video.size(), 30u);
  BOOST_CHECK_EQUAL(std::count(out.video_packet_keys.begin(), out.video_packet_keys.end(), true), 2);

  // A software encoder that does not exist is still a clear error, NVENC preferred or not.
  RecordingSink nowhere;
  options.video_codec = "no_such_encoder";
  StreamEncoder broken(options, nowhere);
  auto result = broken.encode_video(uint8_tensor(pattern(64, 48, 3, 0), {48, 64, 3}), 0, {1, 10});
  if (broken.video_encoder() != "h264_nvenc") {
    BOOST_REQUIRE(!result.has_value());
    BOOST_TEST(result.error().message.find("no_such_encoder") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(audio_before_first_video_is_buffered_then_flushed) {
  TempDir dir;
  RecordingSink sink;
  StreamEncoder encoder({}, sink);
  // 1.7 s of stereo audio before any video; the first video frame comes at 2.5 s, so audio
  // older than 0.5 s is discarded and the rest flushed (down-mixed to mono) when it is encoded.
  std::int64_t audio_pts = 0;
  for (int i = 0; i < 80; ++i) {  // 80 x 1024 samples at 48 kHz: 1.7 s
    BOOST_REQUIRE(encoder.encode_audio(sine_audio(audio_pts)));
    audio_pts += 1024;
  }
  BOOST_CHECK_EQUAL(encoder.stats().audio_packets_out, 0);
  const std::int64_t first_video = 90000 * 5 / 2;
  std::int64_t video_pts = first_video;
  for (int i = 0; i < 30; ++i) {
    BOOST_REQUIRE(encoder.encode_video(uint8_tensor(pattern(64, 48, 3, i), {48, 64, 3}), video_pts, out_base));
    BOOST_REQUIRE(encoder.encode_audio(sine_audio(audio_pts)));
    audio_pts += 1024;
    video_pts += 3000;
  }
  BOOST_REQUIRE(encoder.finish());
  const auto& stats = encoder.stats();
  // Frames entirely before 0.5 s (first video - 2 s) are dropped: those starting below 24000.
  const std::int64_t too_old = (24000 + 1023) / 1024;
  BOOST_CHECK_EQUAL(stats.audio_dropped_too_old, too_old);
  BOOST_CHECK_EQUAL(stats.audio_dropped_buffer_full, 0);
  BOOST_CHECK_EQUAL(stats.video_frames_encoded, 30);
  BOOST_CHECK_GT(stats.audio_packets_out, 0);
  const Output out = decode_sink(sink, dir, "av.ts");
  BOOST_CHECK_EQUAL(out.video.size(), 30u);
  BOOST_CHECK_EQUAL(out.audio_codec, AV_CODEC_ID_OPUS);
  BOOST_CHECK_EQUAL(out.audio_channels, 1);
  // Everything kept arrives: (80 - dropped + 30) frames of 1024 samples, give or take the
  // encoder's priming and the last partial frame.
  const std::int64_t kept_samples = (80 - too_old + 30) * 1024;
  BOOST_CHECK_LT(std::llabs(out.audio_samples - kept_samples), 2000);

  // More than 100 frames waiting: the oldest go.
  RecordingSink full_sink;
  StreamEncoder full({}, full_sink);
  for (int i = 0; i < 130; ++i) BOOST_REQUIRE(full.encode_audio(sine_audio(i * 480, 480)));
  BOOST_CHECK_EQUAL(full.stats().audio_dropped_buffer_full, 30);
  BOOST_REQUIRE(full.encode_video(uint8_tensor(pattern(64, 48, 3), {48, 64, 3}), 0, out_base));
  BOOST_REQUIRE(full.finish());
}

BOOST_AUTO_TEST_CASE(audio_far_ahead_drops_video_and_counts_instead_of_stopping) {
  TempDir dir;
  RecordingSink sink;
  StreamEncoder encoder({}, sink);
  // Audio at 5 s waits for video; video from 0 s is more than 2 s behind it.
  BOOST_REQUIRE(encoder.encode_audio(sine_audio(5 * 48000)));
  std::int64_t video_pts = 0;
  for (int i = 0; i < 150; ++i) {  // 0 .. 5 s at 30 fps
    BOOST_REQUIRE(encoder.encode_video(uint8_tensor(pattern(64, 48, 3, i), {48, 64, 3}), video_pts, out_base));
    video_pts += 3000;
  }
  const auto& stats = encoder.stats();
  // Frames before 3 s are dropped: 90 of them. Upstream would have stopped after 100.
  BOOST_CHECK_EQUAL(stats.video_dropped_av_sync, 90);
  BOOST_CHECK_EQUAL(stats.video_frames_encoded, 60);
  // Audio far from the first video later on is dropped, not a stop (upstream's other exit, docs/compatibility.md Q34).
  RecordingSink late_sink;
  StreamEncoder late({}, late_sink);
  BOOST_REQUIRE(late.encode_video(uint8_tensor(pattern(64, 48, 3), {48, 64, 3}), 0, out_base));
  BOOST_REQUIRE(late.encode_audio(sine_audio(10 * 48000)));
  BOOST_CHECK_EQUAL(late.stats().audio_dropped_av_sync, 1);
  BOOST_REQUIRE(late.encode_audio(sine_audio(1024)));
  BOOST_REQUIRE(late.encode_video(uint8_tensor(pattern(64, 48, 3), {48, 64, 3}), 3000, out_base));
  BOOST_REQUIRE(late.finish());
  BOOST_CHECK_EQUAL(late.stats().audio_dropped_av_sync, 1);

  BOOST_REQUIRE(encoder.finish());
  const Output out = decode_sink(sink, dir, "ahead.ts");
  BOOST_CHECK_EQUAL(out.video.size(), 60u);
  BOOST_CHECK_EQUAL(out.video.front().pts, 3 * 90000);
}

BOOST_AUTO_TEST_CASE(bad_audio_is_an_error_and_the_stream_goes_on) {
  TempDir dir;
  RecordingSink sink;
  StreamEncoder encoder({}, sink);
  BOOST_REQUIRE(encoder.encode_video(uint8_tensor(pattern(64, 48, 3), {48, 64, 3}), 0, out_base));
  DecodedAudioFrame bad = sine_audio(0);
  bad.format = "s16";  // samples are float32
  BOOST_CHECK(!encoder.encode_audio(bad));
  BOOST_CHECK_EQUAL(encoder.stats().audio_dropped_invalid, 1);
  BOOST_CHECK(encoder.encode_audio(sine_audio(0, 1024, 1)));
  BOOST_CHECK(encoder.encode_video(uint8_tensor(pattern(64, 48, 3), {48, 64, 3}), 3000, out_base));
  BOOST_CHECK(!encoder.encode_video(uint8_tensor(pattern(64, 48, 3), {48, 64, 3}), 3000, out_base));
  BOOST_CHECK_EQUAL(encoder.stats().video_dropped_pts_not_increasing, 1);
  BOOST_REQUIRE(encoder.finish());
  BOOST_CHECK(!encoder.encode_video(uint8_tensor(pattern(64, 48, 3), {48, 64, 3}), 6000, out_base));
  BOOST_CHECK(encoder.finish());
  const Output out = decode_sink(sink, dir, "bad_audio.ts");
  BOOST_CHECK_EQUAL(out.video.size(), 2u);
  BOOST_CHECK_GT(out.audio_samples, 0);
}

BOOST_AUTO_TEST_CASE(finish_without_video_writes_nothing) {
  RecordingSink sink;
  StreamEncoder encoder({}, sink);
  BOOST_REQUIRE(encoder.encode_audio(sine_audio(0)));
  BOOST_REQUIRE(encoder.finish());
  BOOST_CHECK(sink.segments.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace trickle::media
