#include "trickle/media/stream_decoder.hpp"

#include "trickle/media/whole_frame_packets.hpp"

#include "decoder_opening.hpp"

#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
}

namespace trickle::media {

namespace {

int read_byte_stream(void* opaque, std::uint8_t* buffer, int size) {
  auto& stream = *static_cast<ByteStream*>(opaque);
  const ByteStream::ReadResult result = stream.read(std::span<std::uint8_t>(buffer, static_cast<std::size_t>(size)));
  switch (result.status) {
    case ByteStream::ReadStatus::data: return static_cast<int>(result.bytes);
    case ByteStream::ReadStatus::end: return AVERROR_EOF;
    case ByteStream::ReadStatus::aborted: break;
  }
  return AVERROR_EXIT;
}

struct InterruptState {
  const std::atomic<bool>* stop_requested = nullptr;
  const ByteStream* stream = nullptr;
};

int interrupted(void* opaque) {
  const auto& state = *static_cast<const InterruptState*>(opaque);
  return state.stop_requested->load() || (state.stream != nullptr && state.stream->aborted());
}

std::optional<AVRational> nonzero(AVRational value) {
  if (value.num == 0 || value.den == 0) {
    return std::nullopt;
  }
  return value;
}

std::string channel_layout_name(const AVChannelLayout& layout) {
  char name[128] = {};
  if (av_channel_layout_describe(&layout, name, sizeof name) < 0) {
    return {};
  }
  return name;
}

VideoStreamMetadata video_metadata(const AVStream& stream, const AVCodecContext& codec,
                                   const VideoTensorFormat& target) {
  VideoStreamMetadata meta;
  meta.codec = codec.codec != nullptr ? codec.codec->name : avcodec_get_name(codec.codec_id);
  meta.width = codec.width;
  meta.height = codec.height;
  const char* pix_fmt = av_get_pix_fmt_name(codec.pix_fmt);
  meta.pix_fmt = pix_fmt != nullptr ? pix_fmt : "";
  meta.time_base = stream.time_base;
  // Upstream reads the codec context's framerate; PyAV's newer FFmpeg fills it from the probe,
  // 5.1 does not copy it into a fresh context, so the demuxer's average rate stands in for it.
  meta.framerate = nonzero(codec.framerate);
  if (!meta.framerate) {
    meta.framerate = nonzero(stream.avg_frame_rate);
  }
  meta.sar = nonzero(codec.sample_aspect_ratio);
  // PyAV reduces width*sar.num : height*sar.den with a 1024*1024 bound; unset sar gives None.
  if (meta.sar) {
    AVRational dar{0, 1};
    av_reduce(&dar.num, &dar.den, static_cast<std::int64_t>(codec.width) * meta.sar->num,
              static_cast<std::int64_t>(codec.height) * meta.sar->den, 1024 * 1024);
    meta.dar = nonzero(dar);
  }
  // PyAV has no format object (None) while the pixel format is unknown.
  meta.format =
      pix_fmt != nullptr ? fmt::format("<av.VideoFormat {}, {}x{}>", pix_fmt, codec.width, codec.height) : "None";
  meta.target_width = target.width;
  meta.target_height = target.height;
  return meta;
}

AudioStreamMetadata audio_metadata(const AVStream& stream, const AVCodecContext& codec) {
  AudioStreamMetadata meta;
  meta.codec = codec.codec != nullptr ? codec.codec->name : avcodec_get_name(codec.codec_id);
  meta.sample_rate = codec.sample_rate;
  const char* format = av_get_sample_fmt_name(codec.sample_fmt);
  meta.format = format != nullptr ? format : "";
  meta.channels = codec.ch_layout.nb_channels;
  meta.layout = channel_layout_name(codec.ch_layout);
  meta.time_base = stream.time_base;
  meta.bit_rate = codec.bit_rate;
  return meta;
}

std::optional<tensor::DType> sample_dtype(AVSampleFormat format) {
  switch (av_get_packed_sample_fmt(format)) {
    case AV_SAMPLE_FMT_U8: return tensor::DType::uint8;
    case AV_SAMPLE_FMT_S16: return tensor::DType::int16;
    case AV_SAMPLE_FMT_S32: return tensor::DType::int32;
    case AV_SAMPLE_FMT_S64: return tensor::DType::int64;
    case AV_SAMPLE_FMT_FLT: return tensor::DType::float32;
    case AV_SAMPLE_FMT_DBL: return tensor::DType::float64;
    default: return std::nullopt;
  }
}

tl::expected<DecodedAudioFrame, MediaError> audio_frame(const AVFrame& frame, AVRational time_base,
                                                        tensor::TensorPool& pool) {
  const auto format = static_cast<AVSampleFormat>(frame.format);
  const std::optional<tensor::DType> dtype = sample_dtype(format);
  const int channels = frame.ch_layout.nb_channels;
  if (!dtype || channels <= 0 || frame.nb_samples < 0) {
    return tl::unexpected(media_error("audio frame with an unsupported sample format"));
  }
  const bool planar = av_sample_fmt_is_planar(format) != 0;
  const std::size_t sample_bytes = static_cast<std::size_t>(av_get_bytes_per_sample(format));
  DecodedAudioFrame out;
  if (planar) {
    out.samples = pool.acquire({channels, frame.nb_samples}, *dtype);
    const std::size_t plane_bytes = sample_bytes * static_cast<std::size_t>(frame.nb_samples);
    auto* destination = static_cast<std::uint8_t*>(out.samples.data());
    for (int c = 0; c < channels; ++c) {
      std::memcpy(destination + plane_bytes * static_cast<std::size_t>(c), frame.extended_data[c], plane_bytes);
    }
  } else {
    const std::int64_t values = static_cast<std::int64_t>(frame.nb_samples) * channels;
    out.samples = pool.acquire({1, values}, *dtype);
    std::memcpy(out.samples.data(), frame.extended_data[0], sample_bytes * static_cast<std::size_t>(values));
  }
  out.nb_samples = frame.nb_samples;
  out.format = av_get_sample_fmt_name(format);
  out.layout = channel_layout_name(frame.ch_layout);
  out.sample_rate = frame.sample_rate;
  out.channels = channels;
  out.pts = frame.pts;
  out.time_base = time_base;
  return out;
}

// Seconds of media time as upstream's float(pts * Fraction(time_base)): one correctly rounded
// division of exact integers, so accept/drop decisions at interval boundaries match upstream.
double media_seconds(std::int64_t pts, AVRational time_base) {
  return static_cast<double>(pts * time_base.num) / static_cast<double>(time_base.den);
}

}  // namespace

StreamDecoder::StreamDecoder(StreamDecoderOptions options, StreamDecoderCallbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)) {}

void StreamDecoder::request_stop() {
  stop_requested_.store(true);
  // A decoder waiting for bytes sits in ByteStream::read, where libav's interrupt callback is
  // not polled; aborting the stream wakes it.
  std::lock_guard lock(input_mutex_);
  if (input_ != nullptr) {
    input_->abort();
  }
}

tl::expected<void, MediaError> StreamDecoder::run(ByteStream& input) {
  stats_ = {};
  {
    std::lock_guard lock(input_mutex_);
    input_ = &input;
    if (stop_requested_.load()) {
      input.abort();
    }
  }
  struct Detach {
    StreamDecoder& decoder;
    ~Detach() {
      std::lock_guard lock(decoder.input_mutex_);
      decoder.input_ = nullptr;
    }
  } detach{*this};
  InterruptState interrupt{&stop_requested_, &input};
  const int buffer_size = static_cast<int>(options_.avio_buffer_bytes);
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(static_cast<std::size_t>(buffer_size)));
  if (buffer == nullptr) {
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate AVIO buffer"));
  }
  // Declared before the format context so it outlives it: the demuxer reads through it to the
  // very end, and custom AVIO is never freed by avformat_close_input.
  AvIoContextPtr io{avio_alloc_context(buffer, buffer_size, 0, &input, read_byte_stream, nullptr, nullptr)};
  if (!io) {
    av_free(buffer);
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate AVIO"));
  }
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) {
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate a demuxer"));
  }
  raw->pb = io.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  raw->interrupt_callback = AVIOInterruptCB{interrupted, &interrupt};
  if (options_.probe_seconds > 0) {
    // A live stream is probed in real time: every probed second delays the first frame by one.
    raw->max_analyze_duration = static_cast<std::int64_t>(options_.probe_seconds * AV_TIME_BASE);
  }
  // On failure avformat_open_input frees the context and leaves raw null.
  if (int ret = avformat_open_input(&raw, nullptr, nullptr, nullptr); ret < 0) {
    return tl::unexpected(media_error_from_av(ret, "cannot open the byte stream"));
  }
  AvInputContextPtr context{raw};
  return decode(*context);
}

tl::expected<void, MediaError> StreamDecoder::run(const std::string& url) {
  stats_ = {};
  InterruptState interrupt{&stop_requested_, nullptr};
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) {
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate a demuxer"));
  }
  raw->interrupt_callback = AVIOInterruptCB{interrupted, &interrupt};
  if (int ret = avformat_open_input(&raw, url.c_str(), nullptr, nullptr); ret < 0) {
    return tl::unexpected(media_error_from_av(ret, fmt::format("cannot open '{}'", url)));
  }
  AvInputContextPtr context{raw};
  return decode(*context);
}

tl::expected<void, MediaError> StreamDecoder::decode(AVFormatContext& context) {
  if (int ret = avformat_find_stream_info(&context, nullptr); ret < 0) {
    return tl::unexpected(media_error_from_av(ret, "cannot read stream information"));
  }
  const AVStream* video_stream = nullptr;
  const AVStream* audio_stream = nullptr;
  for (unsigned i = 0; i < context.nb_streams; ++i) {
    const AVStream* stream = context.streams[i];
    const AVMediaType type = stream->codecpar->codec_type;
    if (type == AVMEDIA_TYPE_VIDEO && video_stream == nullptr) {
      video_stream = stream;
    } else if (type == AVMEDIA_TYPE_AUDIO && audio_stream == nullptr) {
      audio_stream = stream;
    }
  }
  if (video_stream == nullptr && audio_stream == nullptr) {
    return tl::unexpected(media_error("the input has neither a video nor an audio stream"));
  }

  AvCodecContextPtr video_decoder;
  AvCodecContextPtr audio_decoder;
  StreamMetadata metadata;
  if (video_stream != nullptr) {
    auto opened = open_decoder(*video_stream, options_);
    if (!opened) {
      return tl::unexpected(opened.error());
    }
    video_decoder = std::move(*opened);
    stats_.video_decoded_on_gpu = video_decoder->hw_device_ctx != nullptr;
    metadata.video = video_metadata(*video_stream, *video_decoder, options_.video);
  }
  if (audio_stream != nullptr) {
    auto opened = open_decoder(*audio_stream, options_);
    if (!opened) {
      return tl::unexpected(opened.error());
    }
    audio_decoder = std::move(*opened);
    metadata.audio = audio_metadata(*audio_stream, *audio_decoder);
  }
  if (callbacks_.on_metadata) {
    callbacks_.on_metadata(metadata);
  }
  std::optional<WholeFramePackets> whole_frames;
  if (video_decoder && options_.whole_frame_pes) {
    whole_frames.emplace(context, *context.streams[video_stream->index], *video_decoder);
  }

  VideoFrameConverter converter(options_.video, options_.tensor_pool_idle_buffers);
  tensor::TensorPool audio_pool(options_.tensor_pool_idle_buffers);
  MediaTimeLimiter limiter(24);
  AvFramePtr frame = make_av_frame();
  AvFramePtr host_frame = make_av_frame();
  AvPacketPtr packet = make_av_packet();
  if (!frame || !host_frame || !packet) {
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate a frame"));
  }

  // A decoded picture as the processor's tensor: on the GPU by gpu_picture when both are there,
  // else on the CPU (an NVDEC surface copied to the host first).
  auto video_tensor = [&](const AVFrame& decoded) -> tl::expected<tensor::Tensor, MediaError> {
    if (decoded.format != AV_PIX_FMT_CUDA) {
      return converter.convert(decoded);
    }
    if (options_.gpu_picture && nv12_surface(decoded)) {
      return options_.gpu_picture(decoded);
    }
    av_frame_unref(host_frame.get());
    if (int ret = av_hwframe_transfer_data(host_frame.get(), &decoded, 0); ret < 0) {
      return tl::unexpected(media_error_from_av(ret, "cannot copy a GPU picture to the host"));
    }
    host_frame->color_range = decoded.color_range;
    host_frame->colorspace = decoded.colorspace;
    return converter.convert(*host_frame);
  };

  auto packet_demuxed = std::chrono::steady_clock::now();
  // Pulls every frame the decoder has ready; EAGAIN/EOF simply mean "no more for now".
  auto receive_frames = [&](AVCodecContext& decoder, bool is_video) -> tl::expected<void, MediaError> {
    for (;;) {
      const int ret = avcodec_receive_frame(&decoder, frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return {};
      }
      if (ret < 0) {
        ++stats_.decode_errors;
        return {};
      }
      struct Unref {
        AVFrame* f;
        ~Unref() { av_frame_unref(f); }
      } unref{frame.get()};
      if (frame->pts == AV_NOPTS_VALUE) {
        continue;
      }
      if (is_video) {
        ++stats_.video_frames_decoded;
        if (!limiter.accept(media_seconds(frame->pts, video_stream->time_base))) {
          ++stats_.video_frames_dropped;
          continue;
        }
        auto tensor = video_tensor(*frame);
        if (!tensor) {
          return tl::unexpected(tensor.error());
        }
        ++stats_.video_frames_delivered;
        if (callbacks_.on_video) {
          callbacks_.on_video(
              DecodedVideoFrame{std::move(*tensor), frame->pts, video_stream->time_base, packet_demuxed});
        }
      } else {
        auto audio = audio_frame(*frame, audio_stream->time_base, audio_pool);
        if (!audio) {
          return tl::unexpected(audio.error());
        }
        ++stats_.audio_frames_delivered;
        if (callbacks_.on_audio) {
          callbacks_.on_audio(std::move(*audio));
        }
      }
    }
  };

  auto send_and_receive = [&](const AVPacket& to_send, bool is_video) -> tl::expected<void, MediaError> {
    AVCodecContext& decoder = is_video ? *video_decoder : *audio_decoder;
    if (is_video) {
      ++stats_.video_packets;
      limiter.set_max_fps(options_.max_framerate ? options_.max_framerate() : 24);
    } else {
      ++stats_.audio_packets;
    }
    if (avcodec_send_packet(&decoder, &to_send) < 0) {
      // A damaged packet (joining mid-GOP, a lost segment) costs that packet, not the stream.
      ++stats_.decode_errors;
      return {};
    }
    return receive_frames(decoder, is_video);
  };

  for (;;) {
    if (stop_requested_.load()) {
      return tl::unexpected(media_error_from_av(AVERROR_EXIT, "decoding stopped"));
    }
    const int ret = av_read_frame(&context, packet.get());
    packet_demuxed = std::chrono::steady_clock::now();
    if (ret == AVERROR_EOF) {
      break;
    }
    if (ret < 0) {
      return tl::unexpected(media_error_from_av(ret, "cannot read a packet"));
    }
    struct Unref {
      AVPacket* p;
      ~Unref() { av_packet_unref(p); }
    } unref{packet.get()};
    const bool is_video = video_stream != nullptr && packet->stream_index == video_stream->index;
    const bool is_audio = audio_stream != nullptr && packet->stream_index == audio_stream->index;
    if (!is_video && !is_audio) {
      continue;
    }
    if (packet->dts == AV_NOPTS_VALUE) {
      ++stats_.packets_without_dts;
      continue;
    }
    if (is_video && whole_frames) {
      if (AvPacketPtr held = whole_frames->take_if_before(*packet)) {
        if (auto sent = send_and_receive(*held, true); !sent) {
          return sent;
        }
      }
    }
    if (auto sent = send_and_receive(*packet, is_video); !sent) {
      return sent;
    }
  }
  if (whole_frames) {
    if (AvPacketPtr held = whole_frames->take()) {
      if (auto sent = send_and_receive(*held, true); !sent) {
        return sent;
      }
    }
  }

  if (options_.drain_at_end) {
    if (video_decoder && avcodec_send_packet(video_decoder.get(), nullptr) >= 0) {
      if (auto received = receive_frames(*video_decoder, true); !received) {
        return received;
      }
    }
    if (audio_decoder && avcodec_send_packet(audio_decoder.get(), nullptr) >= 0) {
      if (auto received = receive_frames(*audio_decoder, false); !received) {
        return received;
      }
    }
  }
  return {};
}

}  // namespace trickle::media
