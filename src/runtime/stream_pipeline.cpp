#include "trickle/runtime/stream_pipeline.hpp"

#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <variant>

#include <spdlog/spdlog.h>

#include "trickle/gpu/cuda_device.hpp"
#include "trickle/media/byte_stream.hpp"
#include "trickle/media/stream_decoder.hpp"
#include "trickle/media/stream_encoder.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/net/spawn.hpp"
#include "trickle/protocol/publisher.hpp"
#include "trickle/protocol/subscriber.hpp"
#include "trickle/runtime/bounded_queue.hpp"
#include "trickle/runtime/fps_meter.hpp"
#include "trickle/runtime/latency_histogram.hpp"
#include "trickle/runtime/processor_inbox.hpp"
#include "trickle/runtime/segment_bridge.hpp"
#include "trickle/util/text.hpp"
#include "trickle/util/thread_name.hpp"

#if defined(TRICKLE_HAVE_CUDA)
#include "trickle/gpu/cuda_frame_converter.hpp"
#include "trickle/gpu/cuda_tensors.hpp"
#endif

namespace trickle {

std::int64_t unix_time_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
using namespace std::chrono_literals;
using Direction = FpsMeter::Direction;
using OutputItem = std::variant<VideoFrame, AudioFrame>;

// "Never": the longest wait the clock can express (milliseconds::max() would overflow it).
const auto no_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::duration::max());

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

// Upstream's TrickleProtocol.update_params: int() of max_framerate, used when > 0.
std::optional<int> framerate_from(const Json& params) {
  if (!params.is_object() || !params.contains("max_framerate")) return std::nullopt;
  const Json& value = params["max_framerate"];
  try {
    int fps = 0;
    if (value.is_number()) fps = static_cast<int>(value.get<double>());
    else if (value.is_string()) fps = std::stoi(value.get<std::string>());
    else if (value.is_boolean()) fps = value.get<bool>() ? 1 : 0;
    else return std::nullopt;
    if (fps > 0) return fps;
  } catch (const std::exception&) {
    spdlog::warn("invalid max_framerate in params: {}", value.dump());
  }
  return std::nullopt;
}


// Logs the first few occurrences of a repeating problem, then every 100th.
bool worth_logging(std::int64_t occurrence) { return occurrence <= 3 || occurrence % 100 == 0; }
}  // namespace

struct StreamPipeline::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::Executor executor, std::shared_ptr<FrameProcessor> processor, StreamPipelineOptions options,
       ErrorCallback on_error)
      : executor(executor),
        processor(std::move(processor)),
        options(std::move(options)),
        on_error(std::move(on_error)),
        max_framerate(this->options.max_framerate.value_or(24)),
        skipper(this->options.frame_skip, [this] { return fps.fps(Direction::ingress_video); }),
        overlay(this->options.overlay),
        inbox(this->options.video_queue_size, this->options.audio_queue_size,
              [this](std::size_t queued) { return skipper.frames_to_trim(queued); }),
        output(this->options.output_queue_size),
        decoder(decoder_options(), decoder_callbacks()),
        bridge(8 * 1024 * 1024, [this] { wake_io(); }),
        io_signal(executor),
        finished_signal(executor) {}

  StreamDecoderOptions decoder_options() {
    StreamDecoderOptions o;
    o.video.width = options.width;
    o.video.height = options.height;
    o.video.dtype = options.video_dtype;
    o.video.batch_dim = options.video_batch_dim;
    o.max_framerate = [this] { return max_framerate.load(); };
    o.cuda_decode = options.gpu_decode || options.video_device.is_cuda();
    o.cuda_device_index = options.video_device.is_cuda() ? options.video_device.index : 0;
    if (options.video_device.is_cuda()) {
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

  StreamDecoderCallbacks decoder_callbacks() {
    StreamDecoderCallbacks c;
    c.on_metadata = [this](const StreamMetadata& m) {
      std::lock_guard lock(metadata_mutex);
      metadata = m;
    };
    c.on_video = [this](DecodedVideoFrame frame) {
      decode_latency.record_since(frame.demuxed);
      fps.record(Direction::ingress_video);
      remember_demuxed(frame.pts, frame.demuxed);
      inbox.push_video(std::move(frame));
      input_ready();
    };
    c.on_audio = [this](DecodedAudioFrame frame) {
      fps.record(Direction::ingress_audio);
      inbox.push_audio(std::move(frame));
      input_ready();
    };
    return c;
  }

  // ---- wiring between threads and the io thread ----

  // External processing: tell the owner the inbox changed (a frame, params, or its end).
  void input_ready() {
    if (options.on_input_ready) options.on_input_ready();
  }

  // External processing: the processor's results are new tensors, so the demux time that
  // latency accounting starts from is found again by pts.
  void remember_demuxed(std::int64_t pts, std::chrono::steady_clock::time_point demuxed) {
    if (!options.external_processing) return;
    std::lock_guard lock(demuxed_mutex);
    demuxed_by_pts[demuxed_next++ % demuxed_by_pts.size()] = {pts, demuxed};
  }
  std::chrono::steady_clock::time_point demuxed_of(std::int64_t pts) {
    std::lock_guard lock(demuxed_mutex);
    for (const auto& [known_pts, demuxed] : demuxed_by_pts) {
      if (known_pts == pts) return demuxed;
    }
    return {};
  }

  // From any thread: wake the io thread's waiters (they re-check their conditions).
  void wake_io() {
    if (auto self = weak_from_this().lock()) {
      asio::post(executor, [self = std::move(self)] { self->io_signal.notify_all(); });
    }
  }

  // The thread does not own the pipeline: run() (which does) joins it, or ~Impl does.
  template <typename Body>
  void start_thread(std::thread& thread, const char* name, Body body) {
    ++threads_alive;
    thread = std::thread([this, name, body] {
      name_this_thread(name);
      try {
        body();
      } catch (const std::exception& e) {
        spdlog::error("pipeline thread failed: {}", e.what());
      }
      --threads_alive;
      wake_io();
    });
  }

  ~Impl() {
    stop_threads();
    bridge.abort();
    for (auto* thread : {&decode_thread, &process_thread, &encode_thread}) {
      if (thread->joinable()) thread->join();
    }
  }

  void report(std::string_view kind, std::string_view message) {
    if (on_error) on_error(kind, message);
  }

  // ---- threads ----

  void decode_thread_body() {
    auto result = decoder.run(input_bytes);
    if (!result && !stopping.load()) {
      spdlog::error("decoding the input failed: {}", result.error().message);
      report("decode_error", result.error().message);
    }
    // End of input: what was decoded is still processed (stop() already aborted the inbox).
    inbox.close();
    input_ready();
  }

  void process_thread_body() {
    try {
      processor->on_stream_start(options.start_params);
    } catch (const std::exception& e) {
      spdlog::error("on_stream_start failed: {}", e.what());
    }
    std::int64_t failures = 0;
    while (auto item = inbox.pop()) {
      if (auto* update = std::get_if<ParamsUpdate>(&*item)) {
        std::exception_ptr error;
        try {
          // A null update only carries work for this thread in `done` (set_target_fps).
          if (!update->params.is_null()) processor->update_params(update->params);
        } catch (...) {
          error = std::current_exception();
          spdlog::error("update_params failed: {}", exception_message(error));
        }
        if (update->done) update->done(error);
      } else if (auto* frame = std::get_if<VideoFrame>(&*item)) {
        if (!skipper.should_process()) {
          ++video_skipped;
          continue;
        }
        const auto started = std::chrono::steady_clock::now();
        std::optional<VideoFrame> result;
        bool skip_processing;
        {
          std::lock_guard lock(overlay_mutex);
          skip_processing = overlay.should_skip_processing();
        }
        if (!skip_processing) {
          try {
            result = processor->process_video(*frame);
          } catch (const std::exception& e) {
            ++video_processor_errors;
            if (worth_logging(++failures)) spdlog::error("process_video failed (frame dropped): {}", e.what());
            continue;
          }
        }
        process_latency.record_since(started);
        std::optional<VideoFrame> out;
        {
          std::lock_guard lock(overlay_mutex);
          out = overlay.update_and_apply(*frame, std::move(result));
        }
        if (!out) {
          ++video_withheld;
          continue;
        }
        if (out->demuxed == std::chrono::steady_clock::time_point{}) out->demuxed = frame->demuxed;
        ++video_processed;
        fps.record(Direction::egress_video);
        // Waiting here when the encoder is behind makes the inbox fill, and the frame skipper
        // trims there, before the processor spends time on frames that would be dropped anyway.
        if (has_output) output.push_wait(OutputItem{std::move(*out)});
      } else if (auto* audio = std::get_if<AudioFrame>(&*item)) {
        std::vector<AudioFrame> outs;
        try {
          outs = processor->process_audio(std::move(*audio));
        } catch (const std::exception& e) {
          ++audio_processor_errors;
          if (worth_logging(++failures)) spdlog::error("process_audio failed (frame dropped): {}", e.what());
          continue;
        }
        for (auto& out : outs) {
          fps.record(Direction::egress_audio);
          if (has_output) output.push_wait(OutputItem{std::move(out)});
        }
      }
    }
    try {
      processor->on_stream_stop();
    } catch (const std::exception& e) {
      spdlog::error("on_stream_stop failed: {}", e.what());
    }
    output.close();
  }

  void encode_thread_body() {
    std::unique_ptr<StreamEncoder> encoder;
    std::int64_t failures = 0;
    while (auto item = output.pop()) {
      if (!encoder) {
        StreamEncoderOptions o;
        o.video_codec = options.video_codec;
        o.audio_codec = options.audio_codec;
        o.prefer_nvenc = options.gpu_encode;
#if defined(TRICKLE_HAVE_CUDA)
        o.to_host = [](const Tensor& tensor) -> tl::expected<Tensor, MediaError> {
          auto copied = gpu::copy_to_host(tensor);
          if (!copied) return tl::unexpected(media_error(copied.error()));
          return std::move(*copied);
        };
#endif
        {
          std::lock_guard lock(metadata_mutex);
          o.with_audio = !options.audio_codec.empty() && metadata && metadata->audio.has_value();
        }
        if (!options.detect_out_resolution) {
          o.width = options.width;
          o.height = options.height;
        }
        encoder = std::make_unique<StreamEncoder>(o, bridge);
      }
      tl::expected<void, MediaError> result;
      if (auto* frame = std::get_if<VideoFrame>(&*item)) {
        const auto started = std::chrono::steady_clock::now();
        result = encoder->encode_video(frame->tensor, frame->pts, frame->time_base);
        if (result) {
          encode_latency.record_since(started);
          if (frame->demuxed != std::chrono::steady_clock::time_point{}) total_latency.record_since(frame->demuxed);
        }
      } else {
        result = encoder->encode_audio(std::get<AudioFrame>(*item));
      }
      if (!result && worth_logging(++failures)) spdlog::warn("encoding: {}", result.error().message);
      std::lock_guard lock(encoder_stats_mutex);
      encoder_stats = encoder->stats();
    }
    if (encoder) {
      if (auto finished = encoder->finish(); !finished) spdlog::warn("finishing the output: {}", finished.error().message);
      std::lock_guard lock(encoder_stats_mutex);
      encoder_stats = encoder->stats();
    }
    bridge.finish();
  }

  // ---- io-thread coroutines ----

  // A publisher for one of the stream's output channels. A failing side channel (events, data)
  // ends the stream, as upstream's error callback does (Q22); the media output only logs, since
  // its failures already show as segments not accepted.
  std::unique_ptr<protocol::TricklePublisher> make_publisher(const std::string& url, std::string mime_type,
                                                             const char* channel, bool failure_ends_stream) {
    protocol::PublisherOptions o;
    o.tls = options.tls;
    o.mime_type = std::move(mime_type);
    if (options.publisher_timeout) o.connect_timeout = seconds_to_ms(*options.publisher_timeout);
    return std::make_unique<protocol::TricklePublisher>(
        executor, url, o, [this, channel, failure_ends_stream](std::string_view kind, std::string_view message) {
          spdlog::warn("{} channel: {} ({})", channel, kind, message);
          if (!failure_ends_stream) return;
          report(kind, message);
          if (!stopping.load()) stop();
        });
  }

  net::awaitable<void> ingest() {
    auto self = shared_from_this();
    protocol::SubscriberOptions o;
    o.tls = options.tls;
    o.start_seq = options.subscribe_start_seq;
    if (options.subscriber_timeout) o.connect_timeout = o.read_timeout = seconds_to_ms(*options.subscriber_timeout);
    subscriber = std::make_unique<protocol::TrickleSubscriber>(
        executor, options.subscribe_url, o, [this](std::string_view kind, std::string_view message) {
          spdlog::warn("input channel: {} ({})", kind, message);
          report(kind, message);
        });
    bool first = true;
    bool aborted = false;
    while (!stopping.load() && !aborted) {
      auto segment = co_await subscriber->next();
      if (!segment) break;
      ++segments_in;
      if (first) {
        first = false;
        Json event = {{"type", "receive_first_ingest_segment"}, {"timestamp", unix_time_ms()}};
        emit_event(std::move(event));
      }
      current_segment = segment.get();
      for (;;) {
        auto piece = co_await segment->read();
        if (!piece) {
          spdlog::warn("input segment {} cut short: {}", segment->seq(), piece.error().message);
          break;
        }
        if (!*piece) break;
        std::vector<std::uint8_t> bytes = std::move(**piece);
        bytes_in += static_cast<std::int64_t>(bytes.size());
        // The decoder is behind: wait here, which stops reading the socket (TCP back-pressure).
        while (!input_bytes.try_push(bytes)) {
          if (input_bytes.aborted() || stopping.load()) {
            aborted = true;
            break;
          }
          co_await net::sleep_for(2ms);
        }
        if (aborted) break;
      }
      current_segment = nullptr;
    }
    input_bytes.close();
    if (!stopping.load()) report("subscription_ended", "");
    subscriber->close();
  }

  net::awaitable<void> publish_output() {
    auto self = shared_from_this();
    publisher = make_publisher(options.publish_url, "video/mp2t", "output", false);
    std::shared_ptr<protocol::SegmentWriter> writer;
    bool first_segment = true;
    for (;;) {
      auto batch = bridge.take();
      for (auto& event : batch.events) {
        if (std::holds_alternative<SegmentBridge::Begin>(event)) {
          writer = co_await publisher->next();
          if (first_segment) {
            first_segment = false;
            Json first = {{"type", "send_first_processed_segment"}, {"timestamp", unix_time_ms()}};
            emit_event(std::move(first));
          }
        } else if (auto* data = std::get_if<SegmentBridge::Data>(&event)) {
          bytes_out += static_cast<std::int64_t>(data->bytes.size());
          if (writer) co_await writer->write(data->bytes);
        } else if (writer) {
          ++segments_out;
          // The relay's answer is awaited aside, so the next segment does not wait for it.
          net::spawn(executor, [writer]() -> net::awaitable<void> { co_await writer->close(); },
                     "closing an output segment");
          writer.reset();
        }
      }
      if (batch.finished && batch.events.empty()) break;
      if (batch.events.empty()) co_await io_signal.wait();
    }
    co_await publisher->close();
    if (options.close_output_at_end && !stopping.load()) co_await publisher->delete_channel();
  }

  net::awaitable<void> control_loop() {
    auto self = shared_from_this();
    protocol::SubscriberOptions o;
    o.tls = options.tls;
    // Upstream's control subscriber has no timeout unless subscriber_timeout is given (Q22).
    o.connect_timeout = o.read_timeout = options.subscriber_timeout ? seconds_to_ms(*options.subscriber_timeout)
                                                                    : no_timeout;
    control = std::make_unique<protocol::TrickleSubscriber>(
        executor, options.control_url, o, [this](std::string_view kind, std::string_view message) {
          spdlog::warn("control channel: {} ({})", kind, message);
          report(kind, message);
          if (!stopping.load()) stop();  // 404 ends the stream cleanly, other failures with an error (Q22)
        });
    while (!stopping.load()) {
      auto segment = co_await control->next();
      if (!segment) break;
      std::string text;
      bool complete = false;
      for (;;) {
        auto piece = co_await segment->read();
        if (!piece) break;
        if (!*piece) {
          complete = true;
          break;
        }
        text.append((*piece)->begin(), (*piece)->end());
        if (text.size() > 1024 * 1024) break;  // not a parameter message
      }
      if (!complete || text.empty()) continue;
      auto params = python_json_loads(text);
      if (!params) {
        spdlog::warn("control message is not JSON: {}", params.error());
        continue;
      }
      if (*params == Json{{"keep", "alive"}}) continue;
      if (!params->is_object()) {
        spdlog::warn("control message is not an object: {}", text.substr(0, 200));
        continue;
      }
      if (options.on_control) options.on_control(std::move(*params));
      else update_params(std::move(*params), {});
    }
    control->close();
  }

  net::awaitable<void> events_loop() {
    auto self = shared_from_this();
    events = make_publisher(options.events_url, "application/json", "events", true);
    for (;;) {
      std::deque<std::string> pending;
      {
        std::lock_guard lock(aux_mutex);
        pending.swap(pending_events);
      }
      for (auto& body : pending) {
        auto writer = co_await events->next();
        auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
        co_await writer->write(bytes);
        co_await writer->close();
      }
      if (!pending.empty()) continue;
      if (aux_closing) break;
      co_await io_signal.wait();
    }
    {
      std::lock_guard lock(aux_mutex);
      aux_closing_events = true;
    }
    co_await events->close();
  }

  net::awaitable<void> heartbeat_loop() {
    auto self = shared_from_this();
    while (!aux_closing) {
      Json heartbeat = {{"type", "heartbeat"},
                        {"timestamp", unix_time_ms()},
                        {"urls",
                         {{"subscribe", options.subscribe_url},
                          {"publish", options.publish_url},
                          {"control", options.control_url},
                          {"events", options.events_url},
                          {"data", options.data_url}}},
                        {"dimensions", {{"width", options.width}, {"height", options.height}}},
                        {"fps", fps.stats()}};
      emit_event(std::move(heartbeat), "stream_heartbeat");
      const auto interval = std::chrono::duration_cast<net::Clock::duration>(
          std::chrono::duration<double>(options.heartbeat_interval));
      auto deadline = net::Clock::now() + interval;
      while (!aux_closing && net::Clock::now() < deadline) {
        co_await io_signal.wait_for(deadline - net::Clock::now());
      }
    }
  }

  net::awaitable<void> data_loop() {
    auto self = shared_from_this();
    data = make_publisher(options.data_url, "application/jsonl", "data", true);
    const auto interval = std::chrono::duration_cast<net::Clock::duration>(
        std::chrono::duration<double>(std::max(options.send_data_interval, 0.01)));
    auto last_send = net::Clock::now();
    for (;;) {
      const bool closing = aux_closing;
      if (!closing) {
        auto deadline = net::Clock::now() + interval;
        while (!aux_closing && net::Clock::now() < deadline) {
          co_await io_signal.wait_for(deadline - net::Clock::now());
        }
      }
      Json items = Json::array();
      {
        std::lock_guard lock(aux_mutex);
        for (auto& item : pending_data) items.push_back(std::move(item));
        pending_data.clear();
      }
      // Upstream posts a keep-alive `[]` when nothing was sent for about 25 s.
      const bool keepalive = net::Clock::now() - last_send + interval > 25s;
      if (!items.empty() || keepalive) {
        std::string body = python_json_dumps(items) + "\n";
        auto writer = co_await data->next();
        auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
        co_await writer->write(bytes);
        co_await writer->close();
        last_send = net::Clock::now();
      }
      if (closing) break;
    }
    co_await data->close();
  }

  // Runs a coroutine and counts it until it ends, so run() can wait for them: media ones
  // (input, output) first, then the side channels.
  void spawn(net::awaitable<void> work, const char* name, bool media) {
    (media ? media_coroutines : aux_coroutines) += 1;
    asio::co_spawn(executor, std::move(work), [self = shared_from_this(), name, media](std::exception_ptr e) {
      if (e) spdlog::error("pipeline {} failed: {}", name, exception_message(e));
      (media ? self->media_coroutines : self->aux_coroutines) -= 1;
      self->io_signal.notify_all();
    });
  }

  // Once per stream, so an operator can see how https:// peers are treated.
  void log_tls_choice() const {
    for (const auto* url : {&options.subscribe_url, &options.publish_url, &options.control_url,
                            &options.events_url, &options.data_url}) {
      if (auto parsed = net::Url::parse(*url); parsed && parsed->secure) {
        spdlog::info("stream {}: https:// channels, {}", options.request_id, options.tls.describe());
        return;
      }
    }
  }

  net::awaitable<void> run() {
    auto self = shared_from_this();
    log_tls_choice();
    if (!options.events_url.empty()) {
      spawn(events_loop(), "events", false);
      if (options.heartbeat_interval > 0) spawn(heartbeat_loop(), "heartbeat", false);
    }
    if (!options.data_url.empty()) spawn(data_loop(), "data", false);
    if (!options.control_url.empty()) spawn(control_loop(), "control", false);
    if (!options.external_processing) start_thread(process_thread, "trk-process", [this] { process_thread_body(); });
    if (has_output) {
      start_thread(encode_thread, "trk-encode", [this] { encode_thread_body(); });
      spawn(publish_output(), "output", true);
    }
    if (!options.subscribe_url.empty()) {
      start_thread(decode_thread, "trk-decode", [this] { decode_thread_body(); });
      spawn(ingest(), "input", true);
    }
    while (threads_alive.load() > 0 || media_coroutines > 0) {
      co_await io_signal.wait();
    }
    // Then the side channels: a last data post, pending events, and the control reader.
    aux_closing = true;
    if (control) control->close();
    io_signal.notify_all();
    while (aux_coroutines > 0) co_await io_signal.wait();
    for (auto* thread : {&decode_thread, &process_thread, &encode_thread}) {
      if (thread->joinable()) thread->join();
    }
    is_finished = true;
    finished_signal.notify_all();
  }

  // Unblocks every thread; safe from anywhere, the destructor included.
  void stop_threads() {
    stopping = true;
    decoder.request_stop();
    input_bytes.abort();
    inbox.abort();
    output.abort();  // frames not yet encoded are dropped; encoded ones still go out
    input_ready();
  }

  void stop() {
    if (stopping.exchange(true)) return;
    stop_threads();
    asio::post(executor, [self = shared_from_this()] {
      if (self->subscriber) self->subscriber->close();
      if (self->current_segment) self->current_segment->close();
      if (self->control) self->control->close();
      self->io_signal.notify_all();
    });
  }

  void update_params(Json params, std::function<void(std::exception_ptr)> done) {
    if (auto fps_limit = framerate_from(params)) max_framerate = *fps_limit;
    inbox.push_params(ParamsUpdate{std::move(params), std::move(done)});
    input_ready();
  }

  void emit_event(Json event, std::string type = "ai_stream_events") {
    if (options.events_url.empty()) return;
    Json envelope = {{"event", std::move(event)}, {"queue_event_type", std::move(type)}};
    {
      std::lock_guard lock(aux_mutex);
      if (aux_closing_events) return;
      pending_events.push_back(python_json_dumps(envelope));
    }
    wake_io();
  }

  net::Executor executor;
  std::shared_ptr<FrameProcessor> processor;
  StreamPipelineOptions options;
  ErrorCallback on_error;

  std::atomic<int> max_framerate;
  FpsMeter fps;
  AdaptiveFrameSkipper skipper;  // processing thread only (and set_target_fps through it)
  std::mutex overlay_mutex;
  OverlayController overlay;
  ProcessorInbox inbox;
  BoundedQueue<OutputItem> output;
  ByteStream input_bytes{4 * 1024 * 1024};
  StreamDecoder decoder;
  SegmentBridge bridge;
  std::mutex metadata_mutex;
  std::optional<StreamMetadata> metadata;

  LatencyHistogram decode_latency, process_latency, encode_latency, total_latency;
  std::atomic<std::int64_t> video_processed{0}, video_skipped{0}, video_withheld{0};
  std::atomic<std::int64_t> video_processor_errors{0}, audio_processor_errors{0};
  std::atomic<std::int64_t> segments_in{0}, segments_out{0}, bytes_in{0}, bytes_out{0};
  std::mutex encoder_stats_mutex;
  StreamEncoderStats encoder_stats;

  const bool has_output = !options.publish_url.empty();
  std::atomic<bool> stopping{false};
  std::atomic<int> threads_alive{0};
  int media_coroutines = 0, aux_coroutines = 0;  // io thread only
  std::thread decode_thread, process_thread, encode_thread;

  // io thread only
  net::AsyncSignal io_signal;
  net::AsyncSignal finished_signal;
  bool started = false;
  bool is_finished = false;
  bool aux_closing = false;
  std::unique_ptr<protocol::TrickleSubscriber> subscriber, control;
  std::unique_ptr<protocol::TricklePublisher> publisher, events, data;
  protocol::SubscribedSegment* current_segment = nullptr;

  std::mutex demuxed_mutex;
  std::array<std::pair<std::int64_t, std::chrono::steady_clock::time_point>, 64> demuxed_by_pts{};
  std::size_t demuxed_next = 0;

  std::mutex aux_mutex;
  std::deque<std::string> pending_events;
  bool aux_closing_events = false;
  std::deque<std::string> pending_data;
};

StreamPipeline::StreamPipeline(net::Executor executor, std::shared_ptr<FrameProcessor> processor,
                               StreamPipelineOptions options, ErrorCallback on_error)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(processor), std::move(options), std::move(on_error))) {}

// A running pipeline keeps itself alive (its coroutines own it) until it has wound down.
StreamPipeline::~StreamPipeline() { impl_->stop(); }

void StreamPipeline::start() {
  if (impl_->started) return;
  impl_->started = true;
  asio::co_spawn(impl_->executor, impl_->run(), [impl = impl_](std::exception_ptr e) {
    if (e) spdlog::error("stream pipeline failed: {}", exception_message(e));
    impl->is_finished = true;
    impl->finished_signal.notify_all();
  });
}

void StreamPipeline::stop() { impl_->stop(); }

net::awaitable<void> StreamPipeline::wait_finished() {
  auto impl = impl_;
  while (!impl->is_finished) co_await impl->finished_signal.wait();
}

bool StreamPipeline::running() const { return impl_->started && !impl_->is_finished; }
bool StreamPipeline::finished() const { return impl_->is_finished; }

void StreamPipeline::update_params(Json params, std::function<void(std::exception_ptr)> done) {
  impl_->update_params(std::move(params), std::move(done));
}

void StreamPipeline::set_manual_loading(bool active) {
  std::lock_guard lock(impl_->overlay_mutex);
  impl_->overlay.set_manual_loading(active);
}

void StreamPipeline::set_target_fps(std::optional<double> target_fps) {
  // The skipper belongs to the processing thread: change it there, between two frames.
  Impl* impl = impl_.get();  // the inbox is the pipeline's own: no reference cycle
  impl_->inbox.push_params(ParamsUpdate{Json(nullptr), [impl, target_fps](std::exception_ptr) {
                                          impl->skipper.set_target_fps(target_fps);
                                        }});
}

void StreamPipeline::publish_data(std::string item) {
  std::lock_guard lock(impl_->aux_mutex);
  impl_->pending_data.push_back(std::move(item));
  if (impl_->pending_data.size() > 1000) impl_->pending_data.pop_front();  // upstream's deque(maxlen=1000)
}

void StreamPipeline::emit_event(Json event, std::string queue_event_type) {
  impl_->emit_event(std::move(event), std::move(queue_event_type));
}

std::optional<ProcessorInbox::Item> StreamPipeline::try_pop_input(bool* ended) {
  return impl_->inbox.try_pop(ended);
}

bool StreamPipeline::push_output(VideoFrame& frame) {
  if (!impl_->has_output) return true;  // nowhere to publish: accepted and forgotten, as upstream
  if (frame.demuxed == std::chrono::steady_clock::time_point{}) frame.demuxed = impl_->demuxed_of(frame.pts);
  OutputItem item{std::move(frame)};
  if (!impl_->output.try_push(item)) {
    frame = std::move(std::get<VideoFrame>(item));
    return false;
  }
  ++impl_->video_processed;
  impl_->fps.record(Direction::egress_video);
  return true;
}

bool StreamPipeline::push_output(AudioFrame& frame) {
  if (!impl_->has_output) return true;
  OutputItem item{std::move(frame)};
  if (!impl_->output.try_push(item)) {
    frame = std::move(std::get<AudioFrame>(item));
    return false;
  }
  impl_->fps.record(Direction::egress_audio);
  return true;
}

bool StreamPipeline::output_has_room() const { return impl_->output.has_room(); }
bool StreamPipeline::output_closed() const { return impl_->output.closed(); }
void StreamPipeline::wait_output_room() { impl_->output.wait_room(); }
void StreamPipeline::finish_output() { impl_->output.close(); }
void StreamPipeline::set_max_framerate(int fps) {
  if (fps > 0) impl_->max_framerate = fps;
}

Json StreamPipeline::fps_stats() const { return impl_->fps.stats(); }

Json StreamPipeline::stats() const {
  const auto inbox = impl_->inbox.counters();
  StreamEncoderStats encoder;
  {
    std::lock_guard lock(impl_->encoder_stats_mutex);
    encoder = impl_->encoder_stats;
  }
  const auto& d = impl_->decoder.stats();
  return Json{
      {"input", {{"segments", impl_->segments_in.load()}, {"bytes", impl_->bytes_in.load()}}},
      {"decoder",
       {{"video_frames_decoded", d.video_frames_decoded},
        {"video_frames_delivered", d.video_frames_delivered},
        {"video_dropped_by_fps_limit", d.video_frames_dropped},
        {"audio_frames_delivered", d.audio_frames_delivered},
        {"decode_errors", d.decode_errors}}},
      {"processor",
       {{"video_processed", impl_->video_processed.load()},
        {"video_skipped", impl_->video_skipped.load()},
        {"video_withheld", impl_->video_withheld.load()},
        {"video_errors", impl_->video_processor_errors.load()},
        {"audio_errors", impl_->audio_processor_errors.load()}}},
      {"queues",
       {{"video_queued", inbox.video_queued},
        {"audio_queued", inbox.audio_queued},
        {"output_queued", impl_->output.size()},
        {"video_trimmed", inbox.video_trimmed},
        {"video_dropped_full", inbox.video_dropped_full},
        {"audio_dropped_full", inbox.audio_dropped_full},
        {"output_dropped_full", impl_->output.dropped()},
        {"dropped_at_stop", inbox.dropped_at_stop}}},
      {"encoder",
       {{"video_frames_encoded", encoder.video_frames_encoded},
        {"video_dropped_invalid", encoder.video_dropped_invalid},
        {"video_dropped_av_sync", encoder.video_dropped_av_sync},
        {"video_dropped_pts_not_increasing", encoder.video_dropped_pts_not_increasing},
        {"video_dropped_encode_error", encoder.video_dropped_encode_error},
        {"audio_frames_encoded", encoder.audio_frames_encoded},
        {"segments", encoder.segments}}},
      {"output", {{"segments", impl_->segments_out.load()}, {"bytes", impl_->bytes_out.load()}}},
      {"latency_ms",
       {{"decode", impl_->decode_latency.to_json()},
        {"process", impl_->process_latency.to_json()},
        {"encode", impl_->encode_latency.to_json()},
        {"demux_to_encoded", impl_->total_latency.to_json()}}}};
}

}  // namespace trickle
