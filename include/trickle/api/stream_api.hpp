#pragma once

// The REST handler core of upstream PyTrickle's StreamServer: every default route, request
// schema, validation message, status code and JSON body of upstream PyTrickle's StreamServer (docs/compatibility.md),
// and the LOADING → IDLE → OK → ERROR lifecycle. One stream at a time as upstream, or with
// max_streams above 1 several, named by the X-Stream-Id header (docs/many_streams.md). Requests
// come in as ApiRequest values on the io thread; the transport (StreamServer, or another) only
// moves bytes.

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "trickle/api/api_message.hpp"
#include "trickle/api/processor_factory.hpp"
#include "trickle/api/stream_requests.hpp"
#include "trickle/api/stream_slots.hpp"
#include "trickle/api/stream_state.hpp"
#include "trickle/net/async_signal.hpp"
#include "trickle/net/bearer_token.hpp"
#include "trickle/runtime/frame_processor.hpp"
#include "trickle/runtime/stream_pipeline.hpp"

namespace trickle::api {

struct StreamApiOptions {
  std::string route_prefix = "/";  // "/api" gives /api/stream/start (system routes never move)
  std::string pipeline;            // empty: $PIPELINE, else "byoc"
  std::string capability_name;     // empty: $CAPABILITY_NAME, else $MODEL_ID, else ""
  std::string version = "0.0.1";   // what /app-version reports
  bool enable_default_routes = true;
  std::optional<double> publisher_timeout, subscriber_timeout;  // seconds
  // The token the orchestrator sends as "Authorization: Bearer <token>" (go-livepeer's BYOC
  // `token`): with one, the /stream/* routes answer 401 without it. nullopt: $CAPABILITY_TOKEN;
  // empty: no checks.
  std::optional<std::string> auth_token;
  // The template for each stream's pipeline (frame skipping, overlay, tensor format, codecs);
  // URLs, size, frame rate and request id come from the start request.
  runtime::StreamPipelineOptions stream_defaults;
  // Streams served at once (1 to 256). 1: upstream's one-stream server, X-Stream-Id ignored.
  // Above 1 (docs/many_streams.md): each stream is named by its X-Stream-Id and runs on a
  // processor of its own, so it needs the ProcessorFactory constructor.
  int max_streams = 1;
};

class StreamApi {
 public:
  // One processor for the one stream: options.max_streams must be 1 (std::invalid_argument).
  StreamApi(net::Executor executor, std::shared_ptr<runtime::FrameProcessor> processor, StreamApiOptions options = {});
  // One processor per stream slot: `make_processor` is called options.max_streams times, now.
  StreamApi(net::Executor executor, const ProcessorFactory& make_processor, StreamApiOptions options = {});
  ~StreamApi();
  StreamApi(const StreamApi&) = delete;
  StreamApi& operator=(const StreamApi&) = delete;

  // Loads the model of every slot's processor on a thread of its own, one after the other (two
  // models loading at once could need twice the peak memory): IDLE when all are loaded, ERROR
  // ("Model loading failed: ...") at the first load_model that throws. Without this call the
  // state stays LOADING (as upstream's server without start_server()).
  void start_loading();

  // On the io thread.
  net::awaitable<ApiResponse> handle(ApiRequest request);

  // Stops every stream and waits for them to wind down.
  net::awaitable<void> stop();

  StreamState& state() { return state_; }
  const StreamApiOptions& options() const { return options_; }
  // The most recently started stream's pipeline (with one slot, upstream's current client).
  std::shared_ptr<runtime::StreamPipeline> current_stream() const {
    auto latest = slots_.latest();
    return latest ? latest->pipeline : nullptr;
  }

 private:
  StreamApi(net::Executor executor, std::vector<std::shared_ptr<runtime::FrameProcessor>> processors,
            StreamApiOptions options);

  // The stream a stop, params, status or stats request is about, or the answer refusing the
  // request. `none_message` null (status, stats): no stream, or several without the header, is
  // no refusal but the server as a whole (a null stream).
  struct Addressed {
    std::shared_ptr<SlotStream> stream;
    std::optional<ApiResponse> refusal;
  };
  Addressed addressed(const ApiRequest& request, const char* none_message) const;

  net::awaitable<ApiResponse> start_stream(const ApiRequest& request);
  net::awaitable<ApiResponse> stop_stream(const ApiRequest& request);
  net::awaitable<ApiResponse> update_params(const ApiRequest& request);
  net::awaitable<void> stop_and_wait(const std::shared_ptr<SlotStream>& stream);
  void count_streams();
  ApiResponse status(const ApiRequest& request) const;
  ApiResponse stats(const ApiRequest& request) const;
  ApiResponse health() const;
  ApiResponse version() const;
  ApiResponse hardware(bool stats) const;
  util::Json current_state() const { return state_.health_status(); }

  net::Executor executor_;
  StreamApiOptions options_;
  std::string prefix_;  // route_prefix without its trailing slash
  std::optional<net::BearerToken> bearer_;
  StreamState state_;

  bool loading_ = false;
  net::AsyncSignal loading_done_;
  std::thread loader_;

  StreamSlots slots_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trickle::api
