// StreamPipeline: one stream's parts put together and run in order. The parts are the media
// path (media_path.hpp), the C++ processing loop (processing_loop.hpp; not run when Python
// processes the frames) and the side channels (side_channels.hpp); what they count is in
// stream_meters.hpp. This file starts them, ends them in the right order and answers for them.

#include "trickle/runtime/stream_pipeline.hpp"

#include <atomic>
#include <thread>

#include <spdlog/spdlog.h>

#include "media_path.hpp"
#include "processing_loop.hpp"
#include "side_channels.hpp"
#include "stream_meters.hpp"
#include "trickle/net/url.hpp"
#include "trickle/util/text.hpp"
#include "trickle/util/thread_name.hpp"

namespace trickle::runtime {

std::int64_t unix_time_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
using Direction = FpsMeter::Direction;

// Upstream's TrickleProtocol.update_params: int() of max_framerate, used when > 0.
std::optional<int> framerate_from(const util::Json& params) {
  if (!params.is_object() || !params.contains("max_framerate")) return std::nullopt;
  const util::Json& value = params["max_framerate"];
  try {
    int fps = 0;
    if (value.is_number())
      fps = static_cast<int>(value.get<double>());
    else if (value.is_string())
      fps = std::stoi(value.get<std::string>());
    else if (value.is_boolean())
      fps = value.get<bool>() ? 1 : 0;
    else
      return std::nullopt;
    if (fps > 0) return fps;
  } catch (const std::exception&) {
    spdlog::warn("invalid max_framerate in params: {}", value.dump());
  }
  return std::nullopt;
}
}  // namespace

struct StreamPipeline::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::Executor executor, std::shared_ptr<FrameProcessor> processor, StreamPipelineOptions options,
       ErrorCallback on_error)
      : executor(executor),
        options(std::move(options)),
        on_error(std::move(on_error)),
        io_signal(executor),
        finished_signal(executor),
        processing(std::move(processor), this->options, meters),
        media(
            executor, this->options, meters, io_signal,
            [this](std::size_t queued) { return processing.frames_to_trim(queued); }, media_hooks()),
        side(executor, this->options, io_signal, side_hooks()) {}

  MediaPath::Hooks media_hooks() {
    return {.input_ready = [this] { input_ready(); },
            .wake_io = [this] { wake_io(); },
            .emit_event = [this](util::Json event) { side.emit_event(std::move(event), "ai_stream_events"); },
            .report = [this](std::string_view kind, std::string_view message) { report(kind, message); }};
  }

  SideChannels::Hooks side_hooks() {
    return {.on_params =
                [this](util::Json params) {
                  if (options.on_control)
                    options.on_control(std::move(params));
                  else
                    update_params(std::move(params), {});
                },
            .fps_stats = [this] { return meters.fps.stats(); },
            .wake_io = [this] { wake_io(); },
            .fail =
                [this](std::string_view kind, std::string_view message) {
                  report(kind, message);
                  if (!stopping.load()) stop();
                },
            .stopping = [this] { return stopping.load(); }};
  }

  ~Impl() {
    stop_threads();
    media.abandon_output();
    for (auto* thread : {&decode_thread, &process_thread, &encode_thread}) {
      if (thread->joinable()) thread->join();
    }
  }

  // External processing: tell the owner the inbox changed (a frame, params, or its end).
  void input_ready() {
    if (options.on_input_ready) options.on_input_ready();
  }

  // From any thread: wake the io thread's waiters (they re-check their conditions).
  void wake_io() {
    if (auto self = weak_from_this().lock()) {
      asio::post(executor, [self = std::move(self)] { self->io_signal.notify_all(); });
    }
  }

  void report(std::string_view kind, std::string_view message) {
    if (on_error) on_error(kind, message);
  }

  // The thread does not own the pipeline: run() (which does) joins it, or ~Impl does.
  template <typename Body>
  void start_thread(std::thread& thread, const char* name, Body body) {
    ++threads_alive;
    thread = std::thread([this, name, body] {
      util::name_this_thread(name);
      try {
        body();
      } catch (const std::exception& e) {
        spdlog::error("pipeline thread {} failed: {}", name, e.what());
      }
      --threads_alive;
      wake_io();
    });
  }

  // Runs a coroutine and counts it until it ends, so run() can wait for them: media ones
  // (input, output) first, then the side channels. Its completion handler keeps this alive.
  void spawn(net::awaitable<void> work, const char* name, bool is_media) {
    (is_media ? media_coroutines : side_coroutines) += 1;
    asio::co_spawn(executor, std::move(work), [self = shared_from_this(), name, is_media](std::exception_ptr e) {
      if (e) spdlog::error("pipeline {} failed: {}", name, util::exception_message(e));
      (is_media ? self->media_coroutines : self->side_coroutines) -= 1;
      self->io_signal.notify_all();
    });
  }

  // Once per stream, so an operator can see how https:// peers are treated.
  void log_tls_choice() const {
    for (const auto* url :
         {&options.subscribe_url, &options.publish_url, &options.control_url, &options.events_url, &options.data_url}) {
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
      spawn(side.post_events(), "events", false);
      if (options.heartbeat_interval > 0) spawn(side.post_heartbeats(), "heartbeat", false);
    }
    if (!options.data_url.empty()) spawn(side.post_data(), "data", false);
    if (!options.control_url.empty()) spawn(side.read_control(), "control", false);
    if (!options.external_processing) {
      OutputQueue* output = media.has_output() ? &media.output() : nullptr;
      start_thread(process_thread, "trk-process", [this, output] { processing.run(media.inbox(), output); });
    }
    if (media.has_output()) {
      start_thread(encode_thread, "trk-encode", [this] { media.encode(); });
      spawn(media.publish(), "output", true);
    }
    if (media.has_input()) {
      start_thread(decode_thread, "trk-decode", [this] { media.decode(); });
      spawn(media.ingest(), "input", true);
    }
    while (threads_alive.load() > 0 || media_coroutines > 0) co_await io_signal.wait();
    // Then the side channels: a last data post, pending events, and the control reader.
    side.close();
    while (side_coroutines > 0) co_await io_signal.wait();
    for (auto* thread : {&decode_thread, &process_thread, &encode_thread}) {
      if (thread->joinable()) thread->join();
    }
    is_finished = true;
    finished_signal.notify_all();
  }

  // Unblocks every thread; safe from anywhere, the destructor included.
  void stop_threads() {
    stopping = true;
    media.stop_threads();
  }

  void stop() {
    if (stopping.exchange(true)) return;
    stop_threads();
    asio::post(executor, [self = shared_from_this()] {
      self->media.close_input();
      self->side.stop_control();
      self->io_signal.notify_all();
    });
  }

  void update_params(util::Json params, std::function<void(std::exception_ptr)> done) {
    if (auto fps_limit = framerate_from(params)) media.set_max_framerate(*fps_limit);
    media.inbox().push_params(ParamsUpdate{std::move(params), std::move(done)});
    input_ready();
  }

  net::Executor executor;
  StreamPipelineOptions options;
  ErrorCallback on_error;
  StreamMeters meters;
  net::AsyncSignal io_signal;        // io thread: something a waiter waits for may have changed
  net::AsyncSignal finished_signal;  // io thread: the stream has ended
  ProcessingLoop processing;
  MediaPath media;
  SideChannels side;

  std::atomic<bool> stopping{false};
  std::atomic<int> threads_alive{0};
  std::thread decode_thread, process_thread, encode_thread;
  // io thread only
  int media_coroutines = 0, side_coroutines = 0;
  bool started = false;
  bool is_finished = false;
};

StreamPipeline::StreamPipeline(net::Executor executor, std::shared_ptr<FrameProcessor> processor,
                               StreamPipelineOptions options, ErrorCallback on_error)
    : impl_(
          std::make_shared<Impl>(std::move(executor), std::move(processor), std::move(options), std::move(on_error))) {}

// A running pipeline keeps itself alive (its coroutines own it) until it has wound down.
StreamPipeline::~StreamPipeline() { impl_->stop(); }

void StreamPipeline::start() {
  if (impl_->started) return;
  impl_->started = true;
  asio::co_spawn(impl_->executor, impl_->run(), [impl = impl_](std::exception_ptr e) {
    if (e) spdlog::error("stream pipeline failed: {}", util::exception_message(e));
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

void StreamPipeline::update_params(util::Json params, std::function<void(std::exception_ptr)> done) {
  impl_->update_params(std::move(params), std::move(done));
}

void StreamPipeline::set_manual_loading(bool active) { impl_->processing.set_manual_loading(active); }

void StreamPipeline::set_target_fps(std::optional<double> target_fps) {
  // The skipper belongs to the processing thread: change it there, between two frames.
  Impl* impl = impl_.get();  // the inbox is the pipeline's own: no reference cycle
  impl_->media.inbox().push_params(ParamsUpdate{
      util::Json(nullptr), [impl, target_fps](std::exception_ptr) { impl->processing.set_target_fps(target_fps); }});
}

void StreamPipeline::publish_data(std::string item) { impl_->side.publish_data(std::move(item)); }

void StreamPipeline::emit_event(util::Json event, std::string queue_event_type) {
  impl_->side.emit_event(std::move(event), std::move(queue_event_type));
}

// ---- external processing: the owner takes the inbox's frames and hands back results ----

std::optional<ProcessorInbox::Item> StreamPipeline::try_pop_input(bool* ended) {
  return impl_->media.inbox().try_pop(ended);
}

bool StreamPipeline::push_output(VideoFrame& frame) {
  if (!impl_->media.has_output()) return true;  // nowhere to publish: accepted and forgotten, as upstream
  if (frame.demuxed == std::chrono::steady_clock::time_point{}) frame.demuxed = impl_->media.demuxed_of(frame.pts);
  OutputItem item{std::move(frame)};
  if (!impl_->media.output().try_push(item)) {
    frame = std::move(std::get<VideoFrame>(item));
    return false;
  }
  ++impl_->meters.video_processed;
  impl_->meters.fps.record(Direction::egress_video);
  return true;
}

bool StreamPipeline::push_output(AudioFrame& frame) {
  if (!impl_->media.has_output()) return true;
  OutputItem item{std::move(frame)};
  if (!impl_->media.output().try_push(item)) {
    frame = std::move(std::get<AudioFrame>(item));
    return false;
  }
  impl_->meters.fps.record(Direction::egress_audio);
  return true;
}

bool StreamPipeline::output_has_room() const { return impl_->media.output().has_room(); }
bool StreamPipeline::output_closed() const { return impl_->media.output().closed(); }
void StreamPipeline::wait_output_room() { impl_->media.output().wait_room(); }
void StreamPipeline::finish_output() { impl_->media.output().close(); }
void StreamPipeline::set_max_framerate(int fps) {
  if (fps > 0) impl_->media.set_max_framerate(fps);
}

// ---- what the stream reports ----

util::Json StreamPipeline::fps_stats() const { return impl_->meters.fps.stats(); }

util::Json StreamPipeline::stats() const {
  const auto& m = impl_->meters;
  auto& media = impl_->media;
  const auto inbox = media.inbox().counters();
  return util::Json{{"input", {{"segments", m.segments_in.load()}, {"bytes", m.bytes_in.load()}}},
                    {"decoder", media.decoder_stats()},
                    {"processor",
                     {{"video_processed", m.video_processed.load()},
                      {"video_skipped", m.video_skipped.load()},
                      {"video_withheld", m.video_withheld.load()},
                      {"video_errors", m.video_processor_errors.load()},
                      {"audio_errors", m.audio_processor_errors.load()}}},
                    {"queues",
                     {{"video_queued", inbox.video_queued},
                      {"audio_queued", inbox.audio_queued},
                      {"output_queued", media.output().size()},
                      {"video_trimmed", inbox.video_trimmed},
                      {"video_dropped_full", inbox.video_dropped_full},
                      {"audio_dropped_full", inbox.audio_dropped_full},
                      {"output_dropped_full", media.output().dropped()},
                      {"dropped_at_stop", inbox.dropped_at_stop}}},
                    {"encoder", media.encoder_stats()},
                    {"output", {{"segments", m.segments_out.load()}, {"bytes", m.bytes_out.load()}}},
                    {"latency_ms",
                     {{"decode", m.decode_latency.to_json()},
                      {"process", m.process_latency.to_json()},
                      {"encode", m.encode_latency.to_json()},
                      {"demux_to_encoded", m.total_latency.to_json()}}}};
}

}  // namespace trickle::runtime
