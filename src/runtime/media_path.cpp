#include "media_path.hpp"

#include <spdlog/spdlog.h>

#include "trickle/gpu/cuda_device.hpp"
#include "trickle/net/spawn.hpp"

#if defined(TRICKLE_HAVE_CUDA)
#include "trickle/gpu/cuda_frame_converter.hpp"
#include "trickle/gpu/cuda_tensors.hpp"
#endif

namespace trickle::runtime {

using namespace std::chrono_literals;
using Direction = FpsMeter::Direction;

MediaPath::MediaPath(net::Executor executor, const StreamPipelineOptions& options, StreamMeters& meters,
                     net::AsyncSignal& io_signal, ProcessorInbox::VideoTrimRule trim_rule, Hooks hooks)
    : executor_(std::move(executor)),
      options_(options),
      meters_(meters),
      io_signal_(io_signal),
      hooks_(std::move(hooks)),
      max_framerate_(options.max_framerate.value_or(24)),
      inbox_(options.video_queue_size, options.audio_queue_size, std::move(trim_rule)),
      output_(options.output_queue_size),
      decoder_(decoder_options(), decoder_callbacks()),
      bridge_(8 * 1024 * 1024, [this] { hooks_.wake_io(); }) {}

media::StreamDecoderOptions MediaPath::decoder_options() {
  media::StreamDecoderOptions o;
  o.video.width = options_.width;
  o.video.height = options_.height;
  o.video.dtype = options_.video_dtype;
  o.video.batch_dim = options_.video_batch_dim;
  o.max_framerate = [this] { return max_framerate_.load(); };
  o.cuda_decode = options_.gpu_decode || options_.video_device.is_cuda();
  o.cuda_device_index = options_.video_device.is_cuda() ? options_.video_device.index : 0;
  if (options_.video_device.is_cuda()) {
    const gpu::CudaDevice& device = gpu::cuda_device();
#if defined(TRICKLE_HAVE_CUDA)
    if (device.usable) {
      auto converter = std::make_shared<gpu::CudaFrameConverter>(o.video, o.cuda_device_index);
      o.gpu_picture = [converter](const AVFrame& frame) { return converter->convert(frame); };
    }
#endif
    if (!o.gpu_picture) {
      spdlog::warn("CUDA frames unavailable ({}): the processor gets CPU frames", device.why_not);
    }
  }
  return o;
}

media::StreamDecoderCallbacks MediaPath::decoder_callbacks() {
  media::StreamDecoderCallbacks c;
  c.on_metadata = [this](const media::StreamMetadata& m) {
    std::lock_guard lock(metadata_mutex_);
    metadata_ = m;
  };
  c.on_video = [this](media::DecodedVideoFrame frame) {
    meters_.decode_latency.record_since(frame.demuxed);
    meters_.fps.record(Direction::ingress_video);
    remember_demuxed(frame.pts, frame.demuxed);
    inbox_.push_video(std::move(frame));
    hooks_.input_ready();
  };
  c.on_audio = [this](media::DecodedAudioFrame frame) {
    meters_.fps.record(Direction::ingress_audio);
    inbox_.push_audio(std::move(frame));
    hooks_.input_ready();
  };
  return c;
}

void MediaPath::remember_demuxed(std::int64_t pts, std::chrono::steady_clock::time_point demuxed) {
  if (!options_.external_processing) return;
  std::lock_guard lock(demuxed_mutex_);
  demuxed_by_pts_[demuxed_next_++ % demuxed_by_pts_.size()] = {pts, demuxed};
}

std::chrono::steady_clock::time_point MediaPath::demuxed_of(std::int64_t pts) {
  std::lock_guard lock(demuxed_mutex_);
  for (const auto& [known_pts, demuxed] : demuxed_by_pts_) {
    if (known_pts == pts) return demuxed;
  }
  return {};
}

// ---- threads ----

void MediaPath::decode() {
  auto result = decoder_.run(input_bytes_);
  if (!result && !stopping_.load()) {
    spdlog::error("decoding the input failed: {}", result.error().message);
    hooks_.report("decode_error", result.error().message);
  }
  // End of input: what was decoded is still processed (stop_threads() already aborted the inbox).
  inbox_.close();
  hooks_.input_ready();
}

std::unique_ptr<media::StreamEncoder> MediaPath::make_encoder() {
  media::StreamEncoderOptions o;
  o.video_codec = options_.video_codec;
  o.audio_codec = options_.audio_codec;
  o.prefer_nvenc = options_.gpu_encode;
#if defined(TRICKLE_HAVE_CUDA)
  o.to_host = [](const tensor::Tensor& tensor) -> tl::expected<tensor::Tensor, media::MediaError> {
    auto copied = gpu::copy_to_host(tensor);
    if (!copied) return tl::unexpected(media::media_error(copied.error()));
    return std::move(*copied);
  };
#endif
  {
    std::lock_guard lock(metadata_mutex_);
    o.with_audio = !options_.audio_codec.empty() && metadata_ && metadata_->audio.has_value();
  }
  if (!options_.detect_out_resolution) {
    o.width = options_.width;
    o.height = options_.height;
  }
  return std::make_unique<media::StreamEncoder>(o, bridge_);
}

void MediaPath::encode() {
  // Made at the first result: by then the input's metadata says whether there is audio.
  std::unique_ptr<media::StreamEncoder> encoder;
  std::int64_t failures = 0;
  auto keep_stats = [&] {
    std::lock_guard lock(encoder_stats_mutex_);
    encoder_stats_ = encoder->stats();
  };
  while (auto item = output_.pop()) {
    if (!encoder) encoder = make_encoder();
    tl::expected<void, media::MediaError> result;
    if (auto* frame = std::get_if<VideoFrame>(&*item)) {
      const auto started = std::chrono::steady_clock::now();
      result = encoder->encode_video(frame->tensor, frame->pts, frame->time_base);
      if (result) {
        meters_.encode_latency.record_since(started);
        if (frame->demuxed != std::chrono::steady_clock::time_point{})
          meters_.total_latency.record_since(frame->demuxed);
      }
    } else {
      result = encoder->encode_audio(std::get<AudioFrame>(*item));
    }
    if (!result && worth_logging(++failures)) spdlog::warn("encoding: {}", result.error().message);
    keep_stats();
  }
  if (encoder) {
    if (auto finished = encoder->finish(); !finished)
      spdlog::warn("finishing the output: {}", finished.error().message);
    keep_stats();
  }
  bridge_.finish();
}

void MediaPath::stop_threads() {
  stopping_ = true;
  decoder_.request_stop();
  input_bytes_.abort();
  inbox_.abort();
  output_.abort();
  hooks_.input_ready();
}

// ---- io-thread coroutines ----

net::awaitable<void> MediaPath::ingest() {
  protocol::SubscriberOptions o;
  o.tls = options_.tls;
  o.start_seq = options_.subscribe_start_seq;
  if (options_.subscriber_timeout) o.connect_timeout = o.read_timeout = seconds_to_ms(*options_.subscriber_timeout);
  subscriber_ = std::make_unique<protocol::TrickleSubscriber>(
      executor_, options_.subscribe_url, o,
      [this](std::string_view kind, std::string_view message) { on_input_error(kind, message); });
  bool first = true;
  bool aborted = false;
  while (!stopping_.load() && !aborted) {
    auto segment = co_await subscriber_->next();
    if (!segment) break;
    ++meters_.segments_in;
    if (first) {
      first = false;
      hooks_.emit_event(util::Json{{"type", "receive_first_ingest_segment"}, {"timestamp", unix_time_ms()}});
    }
    current_segment_ = segment.get();
    for (;;) {
      auto piece = co_await segment->read();
      if (!piece) {
        spdlog::warn("input segment {} cut short: {}", segment->seq(), piece.error().message);
        break;
      }
      if (!*piece) break;
      std::vector<std::uint8_t> bytes = std::move(**piece);
      meters_.bytes_in += static_cast<std::int64_t>(bytes.size());
      // The decoder is behind: wait here, which stops reading the socket (TCP back-pressure).
      while (!input_bytes_.try_push(bytes)) {
        if (input_bytes_.aborted() || stopping_.load()) {
          aborted = true;
          break;
        }
        co_await net::sleep_for(2ms);
      }
      if (aborted) break;
    }
    current_segment_ = nullptr;
  }
  input_bytes_.close();
  if (!stopping_.load()) hooks_.report("subscription_ended", "");
  subscriber_->close();
}

void MediaPath::on_input_error(std::string_view kind, std::string_view message) {
  // A 404 after segments came: the owner deleted the channel while we were still reading (as on
  // go-livepeer's relay, which forgets a deleted channel at once). That is the end of the input,
  // reported as subscription_ended when ingest() returns, not an error.
  if (kind == protocol::error_kind::stream_not_found && meters_.segments_in > 0) {
    spdlog::info("input channel deleted: end of input");
    return;
  }
  spdlog::warn("input channel: {} ({})", kind, message);
  hooks_.report(kind, message);
}

void MediaPath::close_input() {
  if (subscriber_) subscriber_->close();
  if (current_segment_) current_segment_->close();
}

net::awaitable<void> MediaPath::publish() {
  protocol::PublisherOptions o;
  o.tls = options_.tls;
  o.mime_type = "video/mp2t";
  if (options_.publisher_timeout) o.connect_timeout = seconds_to_ms(*options_.publisher_timeout);
  // Its failures already show as segments not accepted: logged, and the stream goes on.
  publisher_ = std::make_unique<protocol::TricklePublisher>(
      executor_, options_.publish_url, o,
      [](std::string_view kind, std::string_view message) { spdlog::warn("output channel: {} ({})", kind, message); });
  std::shared_ptr<protocol::SegmentWriter> writer;
  bool first_segment = true;
  for (;;) {
    auto batch = bridge_.take();
    for (auto& event : batch.events) {
      if (std::holds_alternative<SegmentBridge::Begin>(event)) {
        writer = co_await publisher_->next();
        if (first_segment) {
          first_segment = false;
          hooks_.emit_event(util::Json{{"type", "send_first_processed_segment"}, {"timestamp", unix_time_ms()}});
        }
      } else if (auto* data = std::get_if<SegmentBridge::Data>(&event)) {
        meters_.bytes_out += static_cast<std::int64_t>(data->bytes.size());
        if (writer) co_await writer->write(data->bytes);
      } else if (writer) {
        ++meters_.segments_out;
        // The relay's answer is awaited aside, so the next segment does not wait for it.
        net::spawn(
            executor_, [writer]() -> net::awaitable<void> { co_await writer->close(); }, "closing an output segment");
        writer.reset();
      }
    }
    if (batch.finished && batch.events.empty()) break;
    if (batch.events.empty()) co_await io_signal_.wait();
  }
  if (options_.close_output_at_end && !stopping_.load())
    co_await publisher_->close_and_delete_channel();
  else
    co_await publisher_->close();
}

// ---- stats ----

util::Json MediaPath::decoder_stats() const {
  const auto& d = decoder_.stats();
  return util::Json{{"video_frames_decoded", d.video_frames_decoded},
                    {"video_frames_delivered", d.video_frames_delivered},
                    {"video_dropped_by_fps_limit", d.video_frames_dropped},
                    {"audio_frames_delivered", d.audio_frames_delivered},
                    {"decode_errors", d.decode_errors}};
}

util::Json MediaPath::encoder_stats() const {
  media::StreamEncoderStats e;
  {
    std::lock_guard lock(encoder_stats_mutex_);
    e = encoder_stats_;
  }
  return util::Json{{"video_frames_encoded", e.video_frames_encoded},
                    {"video_dropped_invalid", e.video_dropped_invalid},
                    {"video_dropped_av_sync", e.video_dropped_av_sync},
                    {"video_dropped_pts_not_increasing", e.video_dropped_pts_not_increasing},
                    {"video_dropped_encode_error", e.video_dropped_encode_error},
                    {"audio_frames_encoded", e.audio_frames_encoded},
                    {"segments", e.segments}};
}

}  // namespace trickle::runtime
