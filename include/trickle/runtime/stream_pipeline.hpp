#pragma once

// One live stream, end to end: trickle GET (subscriber) → demux/decode → processor → encode/mux
// → trickle POST (publisher), plus the control (JSON params in), events (JSON out) and data (text
// out) channels. Upstream PyTrickle's TrickleProtocol + TrickleClient, in C++ threads:
//
//   io thread (Asio)      subscriber → ByteStream ─┐          ┌─ SegmentBridge → publisher
//                         control → params         │          │   events, data, heartbeats
//   decode thread                   StreamDecoder ─┴→ inbox ─┐│
//   processing thread                         FrameProcessor ┴→ output queue ─┐
//   encode thread                                            StreamEncoder ───┘
//
// Every hand-over is bounded and drops (oldest first) at a counted place, except the two byte
// streams, which push back instead (dropping bytes would corrupt the media). When the input ends
// the pipeline drains: every decoded frame is processed, encoded and published, then the output
// channel is closed. stop() ends it at once (queued frames are dropped, what is encoded goes out).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "trickle/net/asio.hpp"
#include "trickle/net/tls.hpp"
#include "trickle/runtime/frame_processor.hpp"
#include "trickle/runtime/frame_skipper.hpp"
#include "trickle/runtime/loading_overlay.hpp"
#include "trickle/runtime/processor_inbox.hpp"
#include "trickle/tensor/device.hpp"
#include "trickle/tensor/dtype.hpp"
#include "trickle/util/python_json.hpp"

namespace trickle::runtime {

struct StreamPipelineOptions {
  // Blank URLs leave that channel out, as upstream does.
  std::string subscribe_url, publish_url, control_url, events_url, data_url;
  // For https:// URLs: certificates are not checked unless asked here or by the environment
  // (TRICKLE_CA_BUNDLE, TRICKLE_TLS_VERIFY), as upstream PyTrickle never checks them.
  net::TlsClientOptions tls = net::TlsClientOptions::from_environment();
  std::int64_t subscribe_start_seq = -2;                        // upstream's: join the segment being written
  int width = 512, height = 512;                                // the processor's input size
  std::optional<int> max_framerate;                             // none: 24, upstream's default
  bool detect_out_resolution = true;                            // false: encode at width x height
  std::optional<double> subscriber_timeout, publisher_timeout;  // seconds; none: 30 s (control: none)
  double heartbeat_interval = 10.0;                             // seconds; <= 0: no heartbeats
  double send_data_interval = 0.333;                            // seconds between data-channel posts
  FrameSkipConfig frame_skip;
  OverlayConfig overlay;
  // Opt-in cheaper frames: uint8 instead of float32, [H, W, 3] instead of [1, H, W, 3].
  tensor::DType video_dtype = tensor::DType::float32;
  bool video_batch_dim = true;
  std::size_t video_queue_size = 300;   // upstream's max_queue_size
  std::size_t audio_queue_size = 1200;  // 4x, as upstream
  // Processor → encoder. Small on purpose: when the encoder falls behind, the processor waits
  // and the backlog builds (and is trimmed) before the processor, not after it.
  std::size_t output_queue_size = 16;
  std::string video_codec = "libx264", audio_codec = "libopus";
  // Opt-in NVIDIA hardware: decode with NVDEC, encode with NVENC (h264_nvenc, low latency). Each
  // falls back to the CPU (FFmpeg's h264 decoder, video_codec) with a log line where the GPU,
  // its driver or FFmpeg's support is missing. Frames reach the processor the same either way.
  bool gpu_decode = false;
  bool gpu_encode = false;
  // GPU frames: cuda hands the processor CUDA tensors made from NVDEC's surfaces by our kernel
  // (implies gpu_decode). Where the build, the GPU or NVDEC is missing, the processor gets CPU
  // frames and the log says why. Results may be CUDA or CPU tensors.
  tensor::Device video_device = tensor::Device::cpu();
  // DELETE the output channel once the input has ended and everything was published, so its
  // readers see the end (upstream never does, docs/compatibility.md Q21).
  bool close_output_at_end = true;
  std::string request_id = "default";
  // External processing (the Python package): no processing thread and no FrameProcessor; the
  // owner takes decoded frames with try_pop_input() when on_input_ready says there may be some,
  // and hands results to push_output(). Control messages go to on_control instead of the inbox.
  bool external_processing = false;
  std::function<void()> on_input_ready;
  std::function<void(util::Json)> on_control;
  util::Json start_params = util::Json::object();  // handed to on_stream_start
};

class StreamPipeline {
 public:
  // Why the stream ended or failed: upstream's error kinds ("stream_not_found", "post_failed",
  // "subscription_ended", "decode_error", ...).
  using ErrorCallback = std::function<void(std::string_view kind, std::string_view message)>;

  StreamPipeline(net::Executor executor, std::shared_ptr<FrameProcessor> processor, StreamPipelineOptions options,
                 ErrorCallback on_error = {});
  // Stops and waits for the threads (without the io thread's help: do not destroy it on the io
  // thread while it runs, wait for finished() first).
  ~StreamPipeline();
  StreamPipeline(const StreamPipeline&) = delete;
  StreamPipeline& operator=(const StreamPipeline&) = delete;

  // On the io thread: opens the channels and starts the threads.
  void start();
  // From any thread: ends the stream soon (bounded by the network timeouts).
  void stop();
  // On the io thread: completes once everything has ended and been closed.
  net::awaitable<void> wait_finished();
  bool running() const;  // started and not finished
  bool finished() const;

  // From any thread. max_framerate applies to the decoder at once; the whole dict then goes to
  // the processor's update_params on its thread, and `done` learns how that went.
  void update_params(util::Json params, std::function<void(std::exception_ptr)> done = {});
  void set_manual_loading(bool active);
  void set_target_fps(std::optional<double> target_fps);
  // Queued for the data channel (posted every send_data_interval as a JSON array + "\n").
  void publish_data(std::string item);
  // One events-channel segment: {"event": event, "queue_event_type": queue_event_type}.
  void emit_event(util::Json event, std::string queue_event_type = "ai_stream_events");

  // External processing only, from any thread. try_pop_input never blocks: nullopt when nothing
  // is queued, with *ended set once the input is over (or the stream stopped) for good.
  std::optional<ProcessorInbox::Item> try_pop_input(bool* ended);
  // Hands a result to the encoder. Never waits: false when the encoder's queue is full (retry
  // after output_has_room()) or the output is closed (check output_closed()).
  bool push_output(VideoFrame& frame);
  bool push_output(AudioFrame& frame);
  bool output_has_room() const;
  bool output_closed() const;
  // Blocks (call without the GIL) until the encoder's queue has room or is closed.
  void wait_output_room();
  // No more results: the encoder finishes, the last segment goes out, the pipeline winds down.
  void finish_output();
  void set_max_framerate(int fps);

  // {"ingress_video_fps", ...} as upstream's FPSMeter.
  util::Json fps_stats() const;
  // Counters, drops, queue sizes and per-stage latency.
  util::Json stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Milliseconds since the Unix epoch, as upstream's event timestamps.
std::int64_t unix_time_ms();

}  // namespace trickle::runtime
