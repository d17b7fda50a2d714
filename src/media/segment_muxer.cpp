#include "trickle/media/segment_muxer.hpp"

#include <exception>
#include <utility>
#include <vector>

#include <fmt/format.h>

extern "C" {
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
}

namespace trickle::media {

namespace {

// Small on purpose: the sink sees each packet's bytes as soon as it is muxed (the context also
// flushes after every packet), never a whole segment at once.
constexpr int io_buffer_size = 8192;

struct CarriedStream {
  AvCodecParametersPtr codec_parameters;
  AVRational time_base;
};

}  // namespace

struct SegmentMuxer::Impl {
  SegmentSink* sink = nullptr;
  std::vector<CarriedStream> outputs;
  // Per input stream: its index among outputs, or -1 when it is not carried.
  std::vector<int> output_of_input;
  int reference_input = -1;
  bool reference_is_video = false;

  // The segment in progress, if any. io is declared first so it outlives the context using it.
  AvIoContextPtr io;
  AvOutputContextPtr context;
  int64_t current_index = -1;
  int64_t next_index = 0;
  bool segment_has_reference = false;
  int64_t segment_start_ticks = AV_NOPTS_VALUE;  // in the reference input's time base
  std::vector<int64_t> last_dts;                 // per output stream, in its muxer time base
  // MPEG-TS cannot carry negative timestamps (an encoder's first dts with B-frames, audio
  // priming from MP4). Like libavformat's avoid_negative_ts=make_non_negative, which ffmpeg's
  // segment muxer applies to the whole stream, the timeline is shifted once, by the first packet's
  // negative time, and never per segment. Unset until the first packet; 0 for the usual input.
  int64_t timeline_offset = AV_NOPTS_VALUE;
  AVRational timeline_offset_time_base{1, 1};

  AvPacketPtr scratch;
  int64_t dropped = 0;
  bool failed = false;
  bool finished = false;
  // An exception thrown by the sink inside libav's write callback cannot unwind through C
  // frames; it is parked here and rethrown once libav has returned.
  std::exception_ptr sink_exception;

  static int write_to_sink(void* opaque, uint8_t* data, int size) {
    auto* self = static_cast<Impl*>(opaque);
    if (self->sink_exception) {
      return AVERROR_EXTERNAL;
    }
    try {
      self->sink->on_segment_data(std::span<const uint8_t>{data, static_cast<size_t>(size)});
    } catch (...) {
      self->sink_exception = std::current_exception();
      return AVERROR_EXTERNAL;
    }
    return size;
  }

  void rethrow_sink_exception() {
    if (sink_exception) {
      failed = true;
      std::rethrow_exception(std::exchange(sink_exception, nullptr));
    }
  }

  template <typename Notify>
  void notify_sink(Notify&& notify) {
    try {
      notify();
    } catch (...) {
      failed = true;
      throw;
    }
  }

  tl::unexpected<MediaError> fail(MediaError error) {
    failed = true;
    return tl::unexpected(std::move(error));
  }

  bool should_cut(const AVPacket& packet) const {
    if (reference_is_video) {
      return (packet.flags & AV_PKT_FLAG_KEY) != 0 && segment_has_reference;
    }
    int64_t ticks = packet.pts != AV_NOPTS_VALUE ? packet.pts : packet.dts;
    if (ticks == AV_NOPTS_VALUE || segment_start_ticks == AV_NOPTS_VALUE) {
      return false;
    }
    constexpr int64_t duration_ms = static_cast<int64_t>(audio_only_segment_seconds * 1000);
    return av_compare_ts(ticks - segment_start_ticks, input_time_base(reference_input), duration_ms,
                         AVRational{1, 1000}) >= 0;
  }

  AVRational input_time_base(int input) const {
    return outputs[static_cast<size_t>(output_of_input[static_cast<size_t>(input)])].time_base;
  }

  void shift_timeline(AVPacket& packet, AVRational time_base) {
    if (timeline_offset == AV_NOPTS_VALUE) {
      int64_t first = packet.dts != AV_NOPTS_VALUE ? packet.dts : packet.pts;
      timeline_offset = first < 0 ? -first : 0;
      timeline_offset_time_base = time_base;
    }
    if (timeline_offset == 0) {
      return;
    }
    // Rounded up so no stream's first packet lands before 0. (Every MPEG-TS stream has the same
    // 90 kHz time base, so in practice this is exact.)
    int64_t shift = av_rescale_q_rnd(timeline_offset, timeline_offset_time_base, time_base, AV_ROUND_UP);
    if (packet.pts != AV_NOPTS_VALUE) {
      packet.pts += shift;
    }
    if (packet.dts != AV_NOPTS_VALUE) {
      packet.dts += shift;
    }
  }

  tl::expected<void, MediaError> begin_segment() {
    AVFormatContext* raw = nullptr;
    if (int ret = avformat_alloc_output_context2(&raw, nullptr, "mpegts", nullptr); ret < 0) {
      return fail(media_error_from_av(ret, "cannot create an MPEG-TS muxer"));
    }
    AvOutputContextPtr new_context{raw};
    for (const CarriedStream& carried : outputs) {
      AVStream* stream = avformat_new_stream(new_context.get(), nullptr);
      if (stream == nullptr) {
        return fail(media_error_from_av(AVERROR(ENOMEM), "cannot add a stream to the muxer"));
      }
      if (int ret = avcodec_parameters_copy(stream->codecpar, carried.codec_parameters.get()); ret < 0) {
        return fail(media_error_from_av(ret, "cannot copy codec parameters"));
      }
      // A tag from the source container may mean nothing (or something else) in MPEG-TS.
      stream->codecpar->codec_tag = 0;
      stream->time_base = carried.time_base;
    }

    auto* buffer = static_cast<uint8_t*>(av_malloc(io_buffer_size));
    if (buffer == nullptr) {
      return fail(media_error_from_av(AVERROR(ENOMEM), "cannot allocate the muxer's buffer"));
    }
    AvIoContextPtr new_io{avio_alloc_context(buffer, io_buffer_size, 1, this, nullptr, &write_to_sink, nullptr)};
    if (!new_io) {
      av_free(buffer);
      return fail(media_error_from_av(AVERROR(ENOMEM), "cannot allocate the muxer's I/O"));
    }
    new_context->pb = new_io.get();
    new_context->flush_packets = 1;
    // Keep the input's timeline untouched, as ffmpeg's segment muxer does: no shifting of
    // negative timestamps, and no mux delay added to pts/dts (copyts) or subtracted for the PCR
    // (max_delay 0 keeps the PCR from going negative for streams that start at 0).
    new_context->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
    new_context->max_delay = 0;
    if (int ret = av_opt_set_int(new_context->priv_data, "mpegts_copyts", 1, 0); ret < 0) {
      return fail(media_error_from_av(ret, "cannot set mpegts_copyts"));
    }
    // Video PES packets carry their length (when it fits in 16 bits), so a demuxer downstream can
    // hand a frame out at its last byte instead of waiting for the next frame to start: one frame
    // interval (33 ms at 30 fps) less latency for every reader of our segments.
    if (int ret = av_opt_set_int(new_context->priv_data, "omit_video_pes_length", 0, 0); ret < 0) {
      return fail(media_error_from_av(ret, "cannot set omit_video_pes_length"));
    }

    io = std::move(new_io);
    context = std::move(new_context);
    current_index = next_index++;
    segment_has_reference = false;
    segment_start_ticks = AV_NOPTS_VALUE;
    last_dts.assign(outputs.size(), AV_NOPTS_VALUE);

    notify_sink([&] { sink->on_segment_begin(current_index); });
    int ret = avformat_write_header(context.get(), nullptr);
    rethrow_sink_exception();
    if (ret < 0) {
      return fail(media_error_from_av(ret, "cannot start an MPEG-TS segment"));
    }
    return {};
  }

  tl::expected<void, MediaError> end_segment() {
    int ret = av_write_trailer(context.get());
    if (ret >= 0) {
      avio_flush(io.get());
    }
    rethrow_sink_exception();
    if (ret < 0) {
      return fail(media_error_from_av(ret, "cannot complete an MPEG-TS segment"));
    }
    if (io->error < 0) {
      return fail(media_error_from_av(io->error, "cannot complete an MPEG-TS segment"));
    }
    context.reset();
    io.reset();
    notify_sink([&] { sink->on_segment_end(current_index); });
    return {};
  }

  tl::expected<void, MediaError> write(const AVPacket& packet, int input) {
    if (failed) {
      return tl::unexpected(media_error("the segment muxer failed earlier"));
    }
    if (finished) {
      return tl::unexpected(media_error("write after finish"));
    }
    if (input < 0 || static_cast<size_t>(input) >= output_of_input.size() ||
        output_of_input[static_cast<size_t>(input)] < 0) {
      ++dropped;
      return {};
    }
    // The muxer refuses such packets, and one bad packet should not end a live stream.
    if ((packet.pts == AV_NOPTS_VALUE && packet.dts == AV_NOPTS_VALUE) ||
        (packet.pts != AV_NOPTS_VALUE && packet.dts != AV_NOPTS_VALUE && packet.pts < packet.dts)) {
      ++dropped;
      return {};
    }

    const bool is_reference = input == reference_input;
    if (context && is_reference && should_cut(packet)) {
      if (auto ended = end_segment(); !ended) {
        return ended;
      }
    }
    if (!context) {
      if (auto begun = begin_segment(); !begun) {
        return begun;
      }
    }

    const auto output = static_cast<size_t>(output_of_input[static_cast<size_t>(input)]);
    AVStream* stream = context->streams[output];
    if (int ret = av_packet_ref(scratch.get(), &packet); ret < 0) {
      return fail(media_error_from_av(ret, "cannot reference a packet"));
    }
    av_packet_rescale_ts(scratch.get(), outputs[output].time_base, stream->time_base);
    shift_timeline(*scratch, stream->time_base);
    scratch->stream_index = static_cast<int>(output);
    scratch->pos = -1;

    // Checked after rescaling because that is where the muxer insists on strictly increasing
    // dts. The first packet of each stream in a segment always passes, so the key frame that
    // opened a segment is never dropped.
    if (scratch->dts != AV_NOPTS_VALUE) {
      if (last_dts[output] != AV_NOPTS_VALUE && scratch->dts <= last_dts[output]) {
        av_packet_unref(scratch.get());
        ++dropped;
        return {};
      }
      last_dts[output] = scratch->dts;
    }

    int ret = av_write_frame(context.get(), scratch.get());
    av_packet_unref(scratch.get());
    rethrow_sink_exception();
    if (ret < 0) {
      return fail(media_error_from_av(ret, "cannot mux a packet"));
    }
    if (is_reference) {
      segment_has_reference = true;
      if (segment_start_ticks == AV_NOPTS_VALUE) {
        segment_start_ticks = packet.pts != AV_NOPTS_VALUE ? packet.pts : packet.dts;
      }
    }
    return {};
  }

  tl::expected<void, MediaError> finish() {
    if (failed) {
      return tl::unexpected(media_error("the segment muxer failed earlier"));
    }
    if (finished) {
      return {};
    }
    finished = true;
    if (context) {
      return end_segment();
    }
    return {};
  }
};

SegmentMuxer::SegmentMuxer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SegmentMuxer::SegmentMuxer(SegmentMuxer&&) noexcept = default;
SegmentMuxer& SegmentMuxer::operator=(SegmentMuxer&&) noexcept = default;
SegmentMuxer::~SegmentMuxer() = default;

tl::expected<SegmentMuxer, MediaError> SegmentMuxer::create(std::span<const InputStream> inputs, SegmentSink& sink) {
  auto impl = std::make_unique<Impl>();
  impl->sink = &sink;
  impl->scratch = make_av_packet();
  if (!impl->scratch) {
    return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot allocate a packet"));
  }
  int first_video = -1;
  int first_audio = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    impl->output_of_input.push_back(-1);
    const InputStream& input = inputs[i];
    if (input.codec_parameters == nullptr || input.codec_parameters->codec_id == AV_CODEC_ID_NONE) {
      continue;
    }
    const AVMediaType type = input.codec_parameters->codec_type;
    if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO) {
      continue;
    }
    if (input.time_base.num <= 0 || input.time_base.den <= 0) {
      return tl::unexpected(media_error(fmt::format("input stream {} has no valid time base", i)));
    }
    AvCodecParametersPtr parameters{avcodec_parameters_alloc()};
    if (!parameters) {
      return tl::unexpected(media_error_from_av(AVERROR(ENOMEM), "cannot copy codec parameters"));
    }
    if (int ret = avcodec_parameters_copy(parameters.get(), input.codec_parameters); ret < 0) {
      return tl::unexpected(media_error_from_av(ret, "cannot copy codec parameters"));
    }
    impl->output_of_input.back() = static_cast<int>(impl->outputs.size());
    impl->outputs.push_back(CarriedStream{std::move(parameters), input.time_base});
    if (type == AVMEDIA_TYPE_VIDEO && first_video < 0) {
      first_video = static_cast<int>(i);
    }
    if (type == AVMEDIA_TYPE_AUDIO && first_audio < 0) {
      first_audio = static_cast<int>(i);
    }
  }
  if (impl->outputs.empty()) {
    return tl::unexpected(media_error("no audio or video stream to mux"));
  }
  impl->reference_is_video = first_video >= 0;
  impl->reference_input = first_video >= 0 ? first_video : first_audio;
  return SegmentMuxer{std::move(impl)};
}

tl::expected<SegmentMuxer, MediaError> SegmentMuxer::create(const AVFormatContext& input, SegmentSink& sink) {
  std::vector<InputStream> inputs;
  inputs.reserve(input.nb_streams);
  for (unsigned i = 0; i < input.nb_streams; ++i) {
    const AVStream* stream = input.streams[i];
    // Cover art is a one-packet "video" stream: taken as the reference it would put the whole
    // input into a single segment.
    const bool attached_picture = (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
    inputs.push_back(InputStream{attached_picture ? nullptr : stream->codecpar, stream->time_base});
  }
  return create(inputs, sink);
}

tl::expected<void, MediaError> SegmentMuxer::write(const AVPacket& packet, int input_stream_index) {
  return impl_->write(packet, input_stream_index);
}

tl::expected<void, MediaError> SegmentMuxer::finish() { return impl_->finish(); }

int64_t SegmentMuxer::segment_count() const { return impl_->next_index; }

int64_t SegmentMuxer::dropped_packet_count() const { return impl_->dropped; }

}  // namespace trickle::media
