#include "trickle/media/stream_encoder.hpp"

#include <cmath>
#include <deque>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

extern "C" {
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "trickle/media/audio_rechunker.hpp"
#include "trickle/media/av_ptr.hpp"
#include "trickle/media/segment_muxer.hpp"
#include "trickle/media/tensor_to_rgb.hpp"
#include "trickle/media/tensor_to_yuv420.hpp"

namespace trickle::media {
namespace {

constexpr AVRational out_time_base{1, 90000};  // upstream's OUT_TIME_BASE
constexpr int audio_sample_rate = 48000;
constexpr int video_stream_index = 0;
constexpr int audio_stream_index = 1;

std::int64_t to_out_time(std::int64_t pts, AVRational time_base) {
  return av_rescale_q_rnd(pts, time_base, out_time_base,
                          static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX));
}

bool valid_time_base(AVRational time_base) { return time_base.num > 0 && time_base.den > 0; }

struct SwsContextDeleter {
  void operator()(SwsContext* context) const noexcept { sws_freeContext(context); }
};

struct AvDictionaryGuard {
  AVDictionary* dictionary = nullptr;
  ~AvDictionaryGuard() { av_dict_free(&dictionary); }
};

}  // namespace

struct StreamEncoder::Impl {
  Impl(StreamEncoderOptions options_in, SegmentSink& sink_in) : options(std::move(options_in)), sink(sink_in) {}

  bool audio_enabled() const { return options.with_audio && !options.audio_codec.empty(); }

  tl::expected<void, MediaError> fail(MediaError error) {
    failed = true;
    return tl::unexpected(std::move(error));
  }

  tl::expected<void, MediaError> open(RgbSize first_frame);
  tl::expected<void, MediaError> open_video(int width, int height);
  tl::expected<void, MediaError> open_video_encoder(const std::string& name, int width, int height);
  tl::expected<void, MediaError> open_audio();
  tl::expected<void, MediaError> drain(AVCodecContext& context, int stream_index);
  tl::expected<void, MediaError> encode_picture(const tensor::Tensor& picture, std::int64_t pts, bool key);
  tl::expected<AVFrame*, MediaError> writable_picture();
  tl::expected<void, MediaError> encode_audio_now(const DecodedAudioFrame& frame);
  tl::expected<void, MediaError> send_audio(bool flush);
  void flush_buffered_audio();

  StreamEncoderOptions options;
  SegmentSink& sink;
  StreamEncoderStats stats;

  AvCodecContextPtr video;
  AvCodecContextPtr audio;
  std::optional<SegmentMuxer> muxer;
  std::unique_ptr<AudioRechunker> rechunker;
  std::string video_encoder;  // the one that opened
  std::unique_ptr<SwsContext, SwsContextDeleter> scaler;
  AvPacketPtr packet = make_av_packet();
  AvFramePtr yuv;                    // reused from frame to frame (x264 copies what it keeps)
  std::vector<std::int16_t> levels;  // tensor_to_yuv420's scratch rows
  std::vector<std::uint8_t> rgb;     // the picture as RGB24 when it must be resized

  bool failed = false;
  bool finished = false;
  // Optional, not 0, for "none yet": upstream tests the last key frame's time for falsiness, so
  // a stream starting at pts 0 gets key frames forced on every frame until pts moves (docs/compatibility.md Q32).
  std::optional<std::int64_t> last_forced_key;
  std::optional<std::int64_t> first_video_ts;  // all in 1/90000
  std::optional<std::int64_t> last_video_pts;
  bool audio_started = false;
  std::deque<DecodedAudioFrame> buffered_audio;
};

tl::expected<void, MediaError> StreamEncoder::Impl::open_video(int width, int height) {
  if (options.prefer_nvenc) {
    auto hardware = open_video_encoder("h264_nvenc", width, height);
    if (hardware) {
      spdlog::info("video encoder: h264_nvenc (NVENC) at {}x{}", width, height);
      return {};
    }
    spdlog::warn("NVENC unavailable ({}): video encoder: {} at {}x{}", hardware.error().message, options.video_codec,
                 width, height);
  }
  return open_video_encoder(options.video_codec, width, height);
}

tl::expected<void, MediaError> StreamEncoder::Impl::open_video_encoder(const std::string& name, int width, int height) {
  const AVCodec* codec = avcodec_find_encoder_by_name(name.c_str());
  if (codec == nullptr || codec->type != AVMEDIA_TYPE_VIDEO) {
    return tl::unexpected(media_error(fmt::format("no video encoder named '{}'", name)));
  }
  video.reset(avcodec_alloc_context3(codec));
  if (!video) return tl::unexpected(media_error("out of memory for the video encoder"));
  video->width = width;
  video->height = height;
  video->pix_fmt = AV_PIX_FMT_YUV420P;
  video->time_base = out_time_base;
  // Only a hint for rate control, as in upstream (PyAV's default 24 fps).
  video->framerate = AVRational{24, 1};
  video->bit_rate = 0;  // x264's default CRF 23, as upstream
  video->max_b_frames = 0;
  // Deliberate fix of docs/compatibility.md Q33: upstream leaves x264's keyint 250 and scene-cut on, so x264 inserts
  // extra key frames and thus extra, shorter segments. Here the only key frames are the ones
  // forced every gop_seconds of media time, so every segment is exactly one GOP.
  video->gop_size = 1 << 30;
  AvDictionaryGuard settings;
  if (name == "libx264") {
    av_dict_set(&settings.dictionary, "preset", "superfast", 0);
    av_dict_set(&settings.dictionary, "tune", "zerolatency", 0);
    av_dict_set(&settings.dictionary, "forced-idr", "1", 0);
    av_dict_set(&settings.dictionary, "x264-params", "scenecut=0", 0);
  } else if (name == "h264_nvenc") {
    // NVENC's low-latency path: fastest preset, ultra-low-latency tuning, no reordering delay,
    // no look-ahead, constant quality near x264's CRF 23; forced key frames become IDRs.
    av_dict_set(&settings.dictionary, "preset", "p1", 0);
    av_dict_set(&settings.dictionary, "tune", "ull", 0);
    av_dict_set(&settings.dictionary, "zerolatency", "1", 0);
    av_dict_set(&settings.dictionary, "delay", "0", 0);
    av_dict_set(&settings.dictionary, "rc", "vbr", 0);
    av_dict_set(&settings.dictionary, "cq", "23", 0);
    av_dict_set(&settings.dictionary, "forced-idr", "1", 0);
    av_dict_set(&settings.dictionary, "no-scenecut", "1", 0);
  }
  if (int result = avcodec_open2(video.get(), codec, &settings.dictionary); result < 0) {
    video.reset();
    return tl::unexpected(
        media_error_from_av(result, fmt::format("cannot open video encoder {} at {}x{}", name, width, height)));
  }
  video_encoder = name;
  return {};
}

tl::expected<void, MediaError> StreamEncoder::Impl::open_audio() {
  const AVCodec* codec = avcodec_find_encoder_by_name(options.audio_codec.c_str());
  if (codec == nullptr || codec->type != AVMEDIA_TYPE_AUDIO) {
    return tl::unexpected(media_error(fmt::format("no audio encoder named '{}'", options.audio_codec)));
  }
  audio.reset(avcodec_alloc_context3(codec));
  if (!audio) return tl::unexpected(media_error("out of memory for the audio encoder"));
  audio->sample_rate = audio_sample_rate;
  const AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  av_channel_layout_copy(&audio->ch_layout, &mono);
  // The encoder's first supported format, as PyAV picks (s16 for libopus).
  audio->sample_fmt = codec->sample_fmts != nullptr ? codec->sample_fmts[0] : AV_SAMPLE_FMT_S16;
  audio->time_base = AVRational{1, audio_sample_rate};
  if (int result = avcodec_open2(audio.get(), codec, nullptr); result < 0) {
    audio.reset();
    return tl::unexpected(
        media_error_from_av(result, fmt::format("cannot open audio encoder {}", options.audio_codec)));
  }
  // Encoders with a variable frame size report 0; 20 ms is Opus's and a sane chunk otherwise.
  const int frame_size = audio->frame_size > 0 ? audio->frame_size : audio_sample_rate / 50;
  rechunker = std::make_unique<AudioRechunker>(audio_sample_rate, audio->sample_fmt, audio->ch_layout, frame_size);
  return {};
}

tl::expected<void, MediaError> StreamEncoder::Impl::open(RgbSize first_frame) {
  int width = options.width > 0 ? options.width : first_frame.width;
  int height = options.height > 0 ? options.height : first_frame.height;
  // Fix of docs/compatibility.md Q30: yuv420p needs even sizes, and upstream fails every encode of an odd-sized
  // stream. The odd last column / row is cropped away instead (see encode_picture).
  width &= ~1;
  height &= ~1;
  if (width < 2 || height < 2) {
    return tl::unexpected(media_error(fmt::format("output size {}x{} is too small to encode", width, height)));
  }
  if (auto opened = open_video(width, height); !opened) return fail(opened.error());
  if (audio_enabled()) {
    if (auto opened = open_audio(); !opened) return fail(opened.error());
  }

  // The muxer needs all its streams before the first packet, hence created here, with both.
  AvCodecParametersPtr video_parameters{avcodec_parameters_alloc()};
  AvCodecParametersPtr audio_parameters{avcodec_parameters_alloc()};
  if (!video_parameters || !audio_parameters) return fail(media_error("out of memory"));
  avcodec_parameters_from_context(video_parameters.get(), video.get());
  std::vector<SegmentMuxer::InputStream> inputs{{video_parameters.get(), out_time_base}};
  if (audio) {
    avcodec_parameters_from_context(audio_parameters.get(), audio.get());
    inputs.push_back({audio_parameters.get(), out_time_base});
  }
  auto created = SegmentMuxer::create(inputs, sink);
  if (!created) return fail(created.error());
  muxer.emplace(std::move(*created));
  return {};
}

tl::expected<void, MediaError> StreamEncoder::Impl::drain(AVCodecContext& context, int stream_index) {
  for (;;) {
    const int result = avcodec_receive_packet(&context, packet.get());
    if (result == AVERROR(EAGAIN) || result == AVERROR_EOF) return {};
    if (result < 0) return fail(media_error_from_av(result, "encoder failed"));
    av_packet_rescale_ts(packet.get(), context.time_base, out_time_base);
    auto written = muxer->write(*packet, stream_index);
    av_packet_unref(packet.get());
    if (!written) return fail(written.error());
    ++(stream_index == video_stream_index ? stats.video_packets_out : stats.audio_packets_out);
    stats.segments = muxer->segment_count();
  }
}

tl::expected<AVFrame*, MediaError> StreamEncoder::Impl::writable_picture() {
  if (!yuv) {
    yuv = make_av_frame();
    if (!yuv) return tl::unexpected(media_error("out of memory"));
    yuv->format = AV_PIX_FMT_YUV420P;
    yuv->width = video->width;
    yuv->height = video->height;
    if (int result = av_frame_get_buffer(yuv.get(), 0); result < 0) {
      yuv.reset();
      return tl::unexpected(media_error_from_av(result, "cannot allocate a picture"));
    }
  }
  // A copy only if an encoder kept a reference to the last picture's buffers.
  if (int result = av_frame_make_writable(yuv.get()); result < 0) {
    return tl::unexpected(media_error_from_av(result, "cannot allocate a picture"));
  }
  return yuv.get();
}

tl::expected<void, MediaError> StreamEncoder::Impl::encode_picture(const tensor::Tensor& source, std::int64_t pts,
                                                                   bool key) {
  auto writable = writable_picture();
  if (!writable) return fail(writable.error());
  AVFrame* picture = *writable;
  const int source_width = static_cast<int>(source.size(1));
  const int source_height = static_cast<int>(source.size(0));
  if ((source_width & ~1) == video->width && (source_height & ~1) == video->height) {
    // Same size, or one odd column/row more: only the even part is read (the crop of docs/compatibility.md Q30).
    // Upstream never needs this for the first frame, but it also avoids its round trip (docs/compatibility.md Q9)
    // through 640x480 that blurs the first frame.
    tensor_to_yuv420(source,
                     {picture->data[0], picture->data[1], picture->data[2], picture->linesize[0], picture->linesize[1],
                      picture->linesize[2], video->width, video->height},
                     levels);
  } else {
    // Upstream resizes with PIL's LANCZOS; swscale's bilinear is softer but much cheaper, and a
    // size change mid-stream is a processor bug worth only a passable picture.
    ++stats.video_frames_resized;
    auto size = tensor_to_rgb24(source, rgb);
    if (!size) return tl::unexpected(size.error());
    scaler.reset(sws_getCachedContext(scaler.release(), size->width, size->height, AV_PIX_FMT_RGB24, video->width,
                                      video->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr));
    if (!scaler) return fail(media_error("cannot set up the RGB to YUV conversion"));
    const std::uint8_t* rows[4] = {rgb.data(), nullptr, nullptr, nullptr};
    const int row_bytes[4] = {size->width * 3, 0, 0, 0};
    sws_scale(scaler.get(), rows, row_bytes, 0, size->height, picture->data, picture->linesize);
  }
  picture->pts = pts;
  // With forced-idr=1, x264 turns a forced I picture into an IDR, so the segment muxer cuts there.
  picture->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  if (int result = avcodec_send_frame(video.get(), picture); result < 0) {
    ++stats.video_dropped_encode_error;
    return tl::unexpected(media_error_from_av(result, "video encoder refused a frame"));
  }
  ++stats.video_frames_encoded;
  return drain(*video, video_stream_index);
}

tl::expected<void, MediaError> StreamEncoder::Impl::send_audio(bool flush) {
  for (;;) {
    auto frame = rechunker->pop(flush);
    if (!frame) return fail(frame.error());
    if (!*frame) return {};
    if (int result = avcodec_send_frame(audio.get(), frame->get()); result < 0) {
      return fail(media_error_from_av(result, "audio encoder refused a frame"));
    }
    ++stats.audio_frames_encoded;
    if (auto drained = drain(*audio, audio_stream_index); !drained) return drained;
  }
}

tl::expected<void, MediaError> StreamEncoder::Impl::encode_audio_now(const DecodedAudioFrame& frame) {
  if (!audio_started) {
    if (valid_time_base(frame.time_base)) {
      const std::int64_t offset = to_out_time(frame.pts, frame.time_base) - *first_video_ts;
      // Fix of docs/compatibility.md Q34: upstream stops the whole encoder here. Dropping (and counting) the audio
      // keeps the video flowing; a later audio frame in sync starts the audio.
      if (std::llabs(offset) > std::llround(av_sync_seconds * out_time_base.den)) {
        ++stats.audio_dropped_av_sync;
        return {};
      }
    }
  }
  if (auto pushed = rechunker->push(frame); !pushed) {
    ++stats.audio_dropped_invalid;
    return pushed;
  }
  audio_started = true;
  return send_audio(false);
}

void StreamEncoder::Impl::flush_buffered_audio() {
  const std::int64_t oldest_kept = *first_video_ts - std::llround(av_sync_seconds * out_time_base.den);
  while (!buffered_audio.empty() && !failed) {
    DecodedAudioFrame frame = std::move(buffered_audio.front());
    buffered_audio.pop_front();
    if (valid_time_base(frame.time_base) && to_out_time(frame.pts, frame.time_base) < oldest_kept) {
      ++stats.audio_dropped_too_old;
      continue;
    }
    // A bad buffered frame is counted by encode_audio_now and must not cost the others.
    (void)encode_audio_now(frame);
  }
}

StreamEncoder::StreamEncoder(StreamEncoderOptions options, SegmentSink& sink)
    : impl_(std::make_unique<Impl>(std::move(options), sink)) {}

StreamEncoder::~StreamEncoder() = default;

const StreamEncoderStats& StreamEncoder::stats() const { return impl_->stats; }
int StreamEncoder::width() const { return impl_->video ? impl_->video->width : 0; }
int StreamEncoder::height() const { return impl_->video ? impl_->video->height : 0; }
const std::string& StreamEncoder::video_encoder() const { return impl_->video_encoder; }

tl::expected<void, MediaError> StreamEncoder::encode_video(const tensor::Tensor& tensor, std::int64_t pts,
                                                           AVRational time_base) {
  Impl& s = *impl_;
  if (s.finished) return tl::unexpected(media_error("encode_video after finish"));
  if (s.failed) return tl::unexpected(media_error("the encoder has failed"));
  if (!s.packet) return s.fail(media_error("out of memory"));
  ++s.stats.video_frames_in;
  if (!valid_time_base(time_base)) {
    ++s.stats.video_dropped_invalid;
    return tl::unexpected(media_error(fmt::format("video frame with time base {}/{}", time_base.num, time_base.den)));
  }
  // A CUDA tensor (from a C++ processor working on GPU frames) comes to the host for x264.
  tensor::Tensor on_host = tensor;
  if (tensor.defined() && tensor.device().is_cuda() && s.options.to_host) {
    auto copied = s.options.to_host(tensor);
    if (!copied) {
      ++s.stats.video_dropped_invalid;
      return tl::unexpected(copied.error());
    }
    on_host = std::move(*copied);
  }
  auto picture = encodable_picture(on_host);
  if (!picture) {
    ++s.stats.video_dropped_invalid;
    return tl::unexpected(picture.error());
  }
  if (!s.video) {
    const RgbSize size{static_cast<int>(picture->size(1)), static_cast<int>(picture->size(0))};
    if (auto opened = s.open(size); !opened) {
      ++s.stats.video_dropped_invalid;
      return opened;
    }
  }
  const std::int64_t out_pts = to_out_time(pts, time_base);
  const std::int64_t sync_window = std::llround(av_sync_seconds * out_time_base.den);
  // Upstream's rule: while audio waits for the first video frame, video far behind it is
  // dropped. Upstream gives up on the stream after 100 such drops (docs/compatibility.md Q34); here they are counted.
  if (!s.buffered_audio.empty()) {
    const DecodedAudioFrame& head = s.buffered_audio.front();
    if (valid_time_base(head.time_base) && to_out_time(head.pts, head.time_base) - out_pts > sync_window) {
      ++s.stats.video_dropped_av_sync;
      return {};
    }
  }
  // x264 and the muxer need increasing timestamps; upstream would fail in the muxer instead.
  if (s.last_video_pts && out_pts <= *s.last_video_pts) {
    ++s.stats.video_dropped_pts_not_increasing;
    return tl::unexpected(
        media_error(fmt::format("video pts {} (1/90000) does not follow the previous {}", out_pts, *s.last_video_pts)));
  }
  const std::int64_t gop = std::llround(s.options.gop_seconds * out_time_base.den);
  const bool key = !s.last_forced_key || out_pts - *s.last_forced_key >= gop;
  if (auto encoded = s.encode_picture(*picture, out_pts, key); !encoded) return encoded;
  s.last_video_pts = out_pts;
  if (key) {
    s.last_forced_key = out_pts;
    ++s.stats.key_frames_forced;
  }
  if (!s.first_video_ts) {
    s.first_video_ts = out_pts;
    s.flush_buffered_audio();
    if (s.failed) return tl::unexpected(media_error("the encoder failed on buffered audio"));
  }
  return {};
}

tl::expected<void, MediaError> StreamEncoder::encode_audio(const DecodedAudioFrame& frame) {
  Impl& s = *impl_;
  if (s.finished) return tl::unexpected(media_error("encode_audio after finish"));
  if (s.failed) return tl::unexpected(media_error("the encoder has failed"));
  ++s.stats.audio_frames_in;
  if (!s.audio_enabled()) {
    ++s.stats.audio_dropped_no_stream;
    return {};
  }
  if (!s.first_video_ts) {
    if (s.buffered_audio.size() >= audio_buffer_frames) {
      s.buffered_audio.pop_front();
      ++s.stats.audio_dropped_buffer_full;
    }
    s.buffered_audio.push_back(frame);
    return {};
  }
  return s.encode_audio_now(frame);
}

tl::expected<void, MediaError> StreamEncoder::finish() {
  Impl& s = *impl_;
  if (s.finished) return {};
  s.finished = true;
  if (s.failed) return tl::unexpected(media_error("the encoder has failed"));
  if (!s.video) return {};
  if (int result = avcodec_send_frame(s.video.get(), nullptr); result < 0) {
    return s.fail(media_error_from_av(result, "cannot flush the video encoder"));
  }
  if (auto drained = s.drain(*s.video, video_stream_index); !drained) return drained;
  if (s.audio) {
    if (auto sent = s.send_audio(true); !sent) return sent;
    if (int result = avcodec_send_frame(s.audio.get(), nullptr); result < 0) {
      return s.fail(media_error_from_av(result, "cannot flush the audio encoder"));
    }
    if (auto drained = s.drain(*s.audio, audio_stream_index); !drained) return drained;
  }
  auto finished = s.muxer->finish();
  s.stats.segments = s.muxer->segment_count();
  if (!finished) return s.fail(finished.error());
  return {};
}

}  // namespace trickle::media
