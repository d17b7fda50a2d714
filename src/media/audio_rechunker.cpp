#include "trickle/media/audio_rechunker.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace trickle::media {
namespace {

// The dtype the decoder (like PyAV's to_ndarray) gives samples of each format.
bool dtype_matches(AVSampleFormat format, tensor::DType dtype) {
  switch (av_get_packed_sample_fmt(format)) {
    case AV_SAMPLE_FMT_U8: return dtype == tensor::DType::uint8;
    case AV_SAMPLE_FMT_S16: return dtype == tensor::DType::int16;
    case AV_SAMPLE_FMT_S32: return dtype == tensor::DType::int32;
    case AV_SAMPLE_FMT_S64: return dtype == tensor::DType::int64;
    case AV_SAMPLE_FMT_FLT: return dtype == tensor::DType::float32;
    case AV_SAMPLE_FMT_DBL: return dtype == tensor::DType::float64;
    default: return false;
  }
}

}  // namespace

AudioRechunker::AudioRechunker(int sample_rate, AVSampleFormat format, const AVChannelLayout& layout, int frame_size)
    : sample_rate_(sample_rate), format_(format), frame_size_(frame_size) {
  av_channel_layout_copy(&layout_, &layout);
  fifo_ = av_audio_fifo_alloc(format_, layout_.nb_channels, std::max(frame_size_, 1));
}

AudioRechunker::~AudioRechunker() {
  swr_free(&resampler_);
  if (fifo_ != nullptr) av_audio_fifo_free(fifo_);
  av_channel_layout_uninit(&layout_);
  av_channel_layout_uninit(&input_.layout);
}

tl::expected<void, MediaError> AudioRechunker::configure(const Input& input) {
  swr_free(&resampler_);
  av_channel_layout_uninit(&input_.layout);
  input_.format = input.format;
  input_.sample_rate = input.sample_rate;
  av_channel_layout_copy(&input_.layout, &input.layout);
  int result = swr_alloc_set_opts2(&resampler_, &layout_, format_, sample_rate_, &input_.layout, input_.format,
                                   input_.sample_rate, 0, nullptr);
  if (result >= 0) result = swr_init(resampler_);
  if (result < 0) {
    swr_free(&resampler_);
    input_.format = AV_SAMPLE_FMT_NONE;
    return tl::unexpected(media_error_from_av(result, "cannot set up the audio resampler"));
  }
  return {};
}

tl::expected<void, MediaError> AudioRechunker::push(const DecodedAudioFrame& frame) {
  if (fifo_ == nullptr) return tl::unexpected(media_error("out of memory for the audio queue"));
  Input input;
  input.format = av_get_sample_fmt(frame.format.c_str());
  input.sample_rate = frame.sample_rate;
  if (input.format == AV_SAMPLE_FMT_NONE) {
    return tl::unexpected(media_error(fmt::format("unknown sample format '{}'", frame.format)));
  }
  if (input.sample_rate <= 0 || frame.nb_samples <= 0 || frame.channels <= 0) {
    return tl::unexpected(media_error(fmt::format("audio frame with {} samples of {} channels at {} Hz",
                                                  frame.nb_samples, frame.channels, frame.sample_rate)));
  }
  if (av_channel_layout_from_string(&input.layout, frame.layout.c_str()) < 0 ||
      input.layout.nb_channels != frame.channels) {
    av_channel_layout_uninit(&input.layout);
    av_channel_layout_default(&input.layout, frame.channels);
  }
  // Freed on every path below.
  struct LayoutGuard {
    AVChannelLayout* layout;
    ~LayoutGuard() { av_channel_layout_uninit(layout); }
  } guard{&input.layout};

  const tensor::Tensor& samples = frame.samples;
  const bool planar = av_sample_fmt_is_planar(input.format) != 0;
  const std::int64_t expected = static_cast<std::int64_t>(frame.nb_samples) * frame.channels;
  if (!samples.defined() || !samples.device().is_cpu() || samples.dim() != 2 || samples.numel() != expected ||
      (planar && samples.size(0) != frame.channels) || (!planar && samples.size(0) != 1) ||
      !dtype_matches(input.format, samples.dtype())) {
    return tl::unexpected(
        media_error(fmt::format("audio samples (dtype {}, {} elements) do not match format {} with {} samples of {} "
                                "channels",
                                samples.defined() ? tensor::dtype_name(samples.dtype()) : "none", samples.numel(),
                                frame.format, frame.nb_samples, frame.channels)));
  }
  if (resampler_ == nullptr || input.format != input_.format || input.sample_rate != input_.sample_rate ||
      av_channel_layout_compare(&input.layout, &input_.layout) != 0) {
    if (auto configured = configure(input); !configured) return configured;
  }

  const tensor::Tensor data = samples.contiguous();
  const auto* base = static_cast<const std::uint8_t*>(data.data());
  const int bytes_per_sample = av_get_bytes_per_sample(input.format);
  const std::uint8_t* planes[AV_NUM_DATA_POINTERS] = {};
  const int plane_count = planar ? frame.channels : 1;
  if (plane_count > AV_NUM_DATA_POINTERS) {
    return tl::unexpected(media_error("too many planar audio channels"));
  }
  for (int c = 0; c < plane_count; ++c) {
    planes[c] = base + static_cast<std::size_t>(c) * frame.nb_samples * bytes_per_sample;
  }

  // Where the resampler's next output sample lies on the input timeline: it still holds
  // `delay` samples of earlier input.
  const std::int64_t delay = swr_get_delay(resampler_, sample_rate_);
  const int capacity = swr_get_out_samples(resampler_, frame.nb_samples);
  AvFramePtr converted = make_av_frame();
  if (!converted || capacity < 0) return tl::unexpected(media_error("out of memory"));
  converted->format = format_;
  converted->sample_rate = sample_rate_;
  converted->nb_samples = std::max(capacity, 1);
  av_channel_layout_copy(&converted->ch_layout, &layout_);
  if (int result = av_frame_get_buffer(converted.get(), 0); result < 0) {
    return tl::unexpected(media_error_from_av(result, "cannot allocate resampled audio"));
  }
  const int produced = swr_convert(resampler_, converted->data, converted->nb_samples, planes, frame.nb_samples);
  if (produced < 0) return tl::unexpected(media_error_from_av(produced, "cannot resample audio"));

  const AVRational output_base{1, sample_rate_};
  if (frame.time_base.num > 0 && frame.time_base.den > 0) {
    const std::int64_t start = av_rescale_q_rnd(frame.pts, frame.time_base, output_base,
                                                static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX)) -
                               delay;
    const std::int64_t queued = av_audio_fifo_size(fifo_);
    // Follow the sample count (exact, no rounding jitter) unless the input jumped by more than
    // 100 ms (a gap or a reset): then the queue's timeline is moved to the input's.
    if (!have_pts_ || std::llabs(start - (fifo_start_pts_ + queued)) > sample_rate_ / 10) {
      fifo_start_pts_ = start - queued;
      have_pts_ = true;
    }
  }
  if (produced > 0 && av_audio_fifo_write(fifo_, reinterpret_cast<void**>(converted->data), produced) < produced) {
    return tl::unexpected(media_error("cannot queue resampled audio"));
  }
  return {};
}

tl::expected<AvFramePtr, MediaError> AudioRechunker::pop(bool flush) {
  if (fifo_ == nullptr) return tl::unexpected(media_error("out of memory for the audio queue"));
  if (flush && resampler_ != nullptr && swr_get_delay(resampler_, sample_rate_) > 0) {
    AvFramePtr tail = make_av_frame();
    if (!tail) return tl::unexpected(media_error("out of memory"));
    tail->format = format_;
    tail->sample_rate = sample_rate_;
    tail->nb_samples = std::max(swr_get_out_samples(resampler_, 0), 1);
    av_channel_layout_copy(&tail->ch_layout, &layout_);
    if (int result = av_frame_get_buffer(tail.get(), 0); result < 0) {
      return tl::unexpected(media_error_from_av(result, "cannot allocate resampled audio"));
    }
    const int produced = swr_convert(resampler_, tail->data, tail->nb_samples, nullptr, 0);
    if (produced > 0) av_audio_fifo_write(fifo_, reinterpret_cast<void**>(tail->data), produced);
  }
  const int queued = av_audio_fifo_size(fifo_);
  if (queued < frame_size_ && !(flush && queued > 0)) return AvFramePtr{};
  const int count = std::min(queued, frame_size_);
  AvFramePtr out = make_av_frame();
  if (!out) return tl::unexpected(media_error("out of memory"));
  out->format = format_;
  out->sample_rate = sample_rate_;
  out->nb_samples = count;
  av_channel_layout_copy(&out->ch_layout, &layout_);
  if (int result = av_frame_get_buffer(out.get(), 0); result < 0) {
    return tl::unexpected(media_error_from_av(result, "cannot allocate an audio frame"));
  }
  if (av_audio_fifo_read(fifo_, reinterpret_cast<void**>(out->data), count) < count) {
    return tl::unexpected(media_error("cannot read queued audio"));
  }
  out->pts = fifo_start_pts_;
  out->time_base = AVRational{1, sample_rate_};
  fifo_start_pts_ += count;
  return out;
}

}  // namespace trickle::media
