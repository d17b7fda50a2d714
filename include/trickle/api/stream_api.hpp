#pragma once

// The REST handler core of upstream PyTrickle's StreamServer: every default route, request
// schema, validation message, status code and JSON body of upstream PyTrickle's StreamServer (docs/compatibility.md),
// and the LOADING → IDLE → OK → ERROR lifecycle, one stream at a time. Requests come in as ApiRequest values on the io
// thread; the transport (StreamServer, or another) only moves bytes.

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "trickle/api/api_message.hpp"
#include "trickle/api/stream_requests.hpp"
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
};

class StreamApi {
 public:
  StreamApi(net::Executor executor, std::shared_ptr<runtime::FrameProcessor> processor, StreamApiOptions options = {});
  ~StreamApi();
  StreamApi(const StreamApi&) = delete;
  StreamApi& operator=(const StreamApi&) = delete;

  // Loads the model on a thread of its own: IDLE when done, ERROR ("Model loading failed: ...")
  // when load_model throws. Without this call the state stays LOADING (as upstream's server
  // without start_server()).
  void start_loading();

  // On the io thread.
  net::awaitable<ApiResponse> handle(ApiRequest request);

  // Stops the current stream, if any, and waits for it to wind down.
  net::awaitable<void> stop();

  StreamState& state() { return state_; }
  const StreamApiOptions& options() const { return options_; }
  std::shared_ptr<runtime::StreamPipeline> current_stream() const { return current_; }

 private:
  net::awaitable<ApiResponse> start_stream(const ApiRequest& request);
  net::awaitable<ApiResponse> stop_stream();
  net::awaitable<ApiResponse> update_params(const ApiRequest& request);
  ApiResponse status() const;
  ApiResponse health() const;
  ApiResponse version() const;
  ApiResponse hardware(bool stats) const;
  util::Json current_state() const { return state_.health_status(); }

  net::Executor executor_;
  std::shared_ptr<runtime::FrameProcessor> processor_;
  StreamApiOptions options_;
  std::string prefix_;  // route_prefix without its trailing slash
  std::optional<net::BearerToken> bearer_;
  StreamState state_;

  bool loading_ = false;
  net::AsyncSignal loading_done_;
  std::thread loader_;

  std::shared_ptr<runtime::StreamPipeline> current_;
  std::optional<StreamStartRequest> current_params_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace trickle::api
