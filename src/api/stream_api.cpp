#include "trickle/api/stream_api.hpp"

#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "trickle/api/stream_id.hpp"
#include "trickle/net/spawn.hpp"
#include "trickle/util/text.hpp"
#include "trickle/util/thread_name.hpp"

#ifndef TRICKLE_VERSION
#define TRICKLE_VERSION "0.0.0"
#endif

namespace trickle::api {

namespace {
using namespace std::chrono_literals;

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : std::move(fallback);
}

// aiohttp's request.content_type: the media type without parameters, application/octet-stream
// when the header is missing.
std::string media_type(const std::string& header) {
  if (header.empty()) return "application/octet-stream";
  return util::ascii_lowercase(std::string(util::trim_blanks(std::string_view(header).substr(0, header.find(';')))));
}

// Upstream's _parse_and_validate_request, up to the model: JSON media type, then json.loads.
tl::expected<util::Json, std::string> parse_json_body(const ApiRequest& request) {
  const std::string type = media_type(request.content_type);
  if (type.rfind("application/json", 0) != 0) return tl::unexpected("Unknown content type: " + type);
  if (request.body_too_large) return tl::unexpected(std::string("Request Entity Too Large"));
  return util::python_json_loads(request.body);
}

// Python truthiness of a JSON value (bool(x)).
bool truthy(const util::Json& v) {
  switch (v.type()) {
    case util::Json::value_t::null: return false;
    case util::Json::value_t::boolean: return v.get<bool>();
    case util::Json::value_t::number_integer: return v.get<std::int64_t>() != 0;
    case util::Json::value_t::number_unsigned: return v.get<std::uint64_t>() != 0;
    case util::Json::value_t::number_float: return v.get<double>() != 0.0;
    case util::Json::value_t::string: return !v.get_ref<const std::string&>().empty();
    default: return !v.empty();
  }
}

constexpr int max_streams_limit = 256;

void check_max_streams(int max_streams) {
  if (max_streams < 1 || max_streams > max_streams_limit) {
    throw std::invalid_argument("StreamApi: max_streams must be 1 to " + std::to_string(max_streams_limit) + ", not " +
                                std::to_string(max_streams));
  }
}

std::vector<std::shared_ptr<runtime::FrameProcessor>> the_one_processor(
    std::shared_ptr<runtime::FrameProcessor> processor, const StreamApiOptions& options) {
  // One instance cannot serve two streams: the engine calls a processor from one thread at a time.
  if (options.max_streams != 1) {
    throw std::invalid_argument("StreamApi: max_streams " + std::to_string(options.max_streams) +
                                " needs a ProcessorFactory (one processor per stream), not one processor");
  }
  return {std::move(processor)};
}

std::vector<std::shared_ptr<runtime::FrameProcessor>> processors_from(const ProcessorFactory& make_processor,
                                                                      const StreamApiOptions& options) {
  check_max_streams(options.max_streams);
  std::vector<std::shared_ptr<runtime::FrameProcessor>> processors;
  for (int i = 0; i < options.max_streams; ++i) {
    processors.push_back(make_processor());
    if (!processors.back()) throw std::invalid_argument("StreamApi: the ProcessorFactory made no processor");
  }
  return processors;
}

ApiResponse error_response(const std::string& message, int status) {
  return json_response(util::Json{{"status", "error"}, {"message", message}}, status);
}

}  // namespace

StreamApi::StreamApi(net::Executor executor, std::shared_ptr<runtime::FrameProcessor> processor,
                     StreamApiOptions options)
    : StreamApi(executor, the_one_processor(std::move(processor), options), options) {}

StreamApi::StreamApi(net::Executor executor, const ProcessorFactory& make_processor, StreamApiOptions options)
    : StreamApi(executor, processors_from(make_processor, options), options) {}

StreamApi::StreamApi(net::Executor executor, std::vector<std::shared_ptr<runtime::FrameProcessor>> processors,
                     StreamApiOptions options)
    : executor_(executor), options_(std::move(options)), loading_done_(executor), slots_(std::move(processors)) {
  options_.pipeline = options_.pipeline.empty() ? env_or("PIPELINE", "byoc") : options_.pipeline;
  if (options_.capability_name.empty()) {
    options_.capability_name = env_or("CAPABILITY_NAME", env_or("MODEL_ID", ""));
  }
  prefix_ = options_.route_prefix;
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  const std::string token = options_.auth_token.value_or(env_or("CAPABILITY_TOKEN", ""));
  if (!token.empty()) bearer_.emplace(token);
}

StreamApi::~StreamApi() {
  *alive_ = false;
  for (const auto& stream : slots_.streams()) {
    if (stream->pipeline) stream->pipeline->stop();
  }
  if (loader_.joinable()) loader_.join();
}

void StreamApi::start_loading() {
  if (loading_ || state_.startup_complete()) return;
  loading_ = true;
  // The thread gets its own copy of the list: slots_ belongs to the io thread.
  loader_ = std::thread([this, alive = alive_, processors = slots_.processors()] {
    util::name_this_thread("trk-load-model");
    std::exception_ptr error;
    try {
      for (const auto& processor : processors) processor->load_model(util::Json::object());
    } catch (...) {
      error = std::current_exception();
    }
    asio::post(executor_, [this, alive, error] {
      if (!*alive) return;
      loading_ = false;
      if (error)
        state_.set_error("Model loading failed: " + util::exception_message(error));
      else
        state_.set_startup_complete();
      loading_done_.notify_all();
    });
  });
}

net::awaitable<ApiResponse> StreamApi::handle(ApiRequest request) {
  const std::string& path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  struct Route {
    std::string path;
    bool is_post;
  };
  std::vector<Route> routes;
  if (options_.enable_default_routes) {
    routes = {{prefix_ + "/stream/start", true},
              {prefix_ + "/stream/stop", true},
              {prefix_ + "/stream/params", true},
              {prefix_ + "/stream/status", false},
              {prefix_ + "/stream/stats", false},
              {"/live-video-to-video", true},
              {"/health", false},
              {"/version", false},
              {"/app-version", false},
              {"/hardware/info", false},
              {"/hardware/stats", false}};
  }
  const Route* route = nullptr;
  for (const auto& r : routes) {
    if (r.path == path) route = &r;
  }
  if (!route) co_return text_response(404, "404: Not Found");
  if (route->is_post ? !post : !get) {
    ApiResponse refused = text_response(405, "405: Method Not Allowed");
    refused.headers.emplace_back("Allow", route->is_post ? "POST" : "GET,HEAD");
    co_return refused;
  }
  // With a token, every stream route needs it (status too: it shows the stream's URLs, which are
  // capabilities themselves); the system routes stay open.
  const bool stream_route = path.starts_with(prefix_ + "/stream/") || path == "/live-video-to-video";
  if (bearer_ && stream_route) {
    if (auto refusal = bearer_->refusal(request.authorization)) {
      spdlog::warn("refused {} {}: {}", request.method, path, *refusal);
      ApiResponse refused = json_response(util::Json{{"status", "error"}, {"message", "Unauthorized"}}, 401);
      refused.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"trickle worker\"");
      co_return refused;
    }
  }
  // With several streams the id goes into logs and bodies: a malformed one is refused on every
  // stream route, before anything is touched (the system routes never read it). With one, the
  // header is ignored, as upstream ignores it.
  if (slots_.many() && stream_route && request.stream_id) {
    if (auto problem = stream_id_error(*request.stream_id)) co_return error_response(*problem, 400);
  }
  if (path == prefix_ + "/stream/start" || path == "/live-video-to-video") co_return co_await start_stream(request);
  if (path == prefix_ + "/stream/stop") co_return co_await stop_stream(request);
  if (path == prefix_ + "/stream/params") co_return co_await update_params(request);
  if (path == prefix_ + "/stream/status") co_return status(request);
  if (path == prefix_ + "/stream/stats") co_return stats(request);
  if (path == "/health") co_return health();
  if (path == "/version") co_return version();
  if (path == "/app-version") co_return json_response(util::Json{{"version", options_.version}});
  co_return hardware(path == "/hardware/stats");
}

StreamApi::Addressed StreamApi::addressed(const ApiRequest& request, const char* none_message) const {
  if (slots_.many() && request.stream_id) {
    if (auto stream = slots_.find(*request.stream_id)) return {stream, std::nullopt};
    return {nullptr, error_response("No stream with X-Stream-Id " + *request.stream_id, 404)};
  }
  // Without the header (or with one slot, where it is ignored): the only stream running, else
  // the one that ended last (upstream's finished client, docs/compatibility.md Q12).
  const auto live = slots_.live();
  if (live.size() == 1) return {live.front(), std::nullopt};
  if (live.empty() && slots_.latest()) return {slots_.latest(), std::nullopt};
  if (!none_message) return {nullptr, std::nullopt};
  if (live.empty()) return {nullptr, error_response(none_message, 400)};
  return {nullptr, error_response(fmt::format("X-Stream-Id is required: {} streams are running", live.size()), 400)};
}

net::awaitable<ApiResponse> StreamApi::start_stream(const ApiRequest& request) {
  // A start during LOADING waits for the model, as upstream's does.
  if (!state_.startup_complete() || !state_.pipeline_ready()) {
    while (loading_) co_await loading_done_.wait();
    if (!state_.startup_complete() || !state_.pipeline_ready()) {
      util::Json refused = {{"status", "error"},
                            {"message", "Pipeline is still initializing. Please wait for IDLE status."},
                            {"current_state", current_state()}};
      co_return json_response(refused, 503);
    }
  }
  auto fail = [&](const std::string& message) {
    // Upstream also tears down a running stream here (docs/compatibility.md Q11); a bad request leaves it alone.
    util::Json failed = {
        {"status", "error"}, {"message", "Error starting stream: " + message}, {"current_state", current_state()}};
    return json_response(failed, 400);
  };
  auto body = parse_json_body(request);
  if (!body) co_return fail(body.error());
  auto start = validate_stream_start_request(*body);
  if (!start) co_return fail(start.error());
  auto refuse = [&](const std::string& message, int status) {
    return json_response(util::Json{{"status", "error"}, {"message", message}, {"current_state", current_state()}},
                         status);
  };
  std::string id = start->gateway_request_id;
  if (!slots_.many()) {
    if (auto latest = slots_.latest(); latest && latest->running()) co_return refuse("Pipeline is still in use", 503);
  } else {
    id = request.stream_id ? *request.stream_id : !id.empty() ? id : "default";
    // An ended stream with this id is no obstacle: the start replaces it.
    if (auto same = slots_.find(id); same && !same->ended) {
      co_return refuse("Stream " + id + " is already running", 409);
    }
    const int capacity = slots_.capacity();
    if (static_cast<int>(slots_.live().size()) >= capacity) {
      co_return refuse(fmt::format("Worker at capacity: {} of {} streams running", capacity, capacity), 503);
    }
  }

  runtime::StreamPipelineOptions o = options_.stream_defaults;
  o.subscribe_url = start->subscribe_url.value_or("");
  o.publish_url = start->publish_url.value_or("");
  o.control_url = start->control_url.value_or("");
  o.events_url = start->events_url.value_or("");
  o.data_url = start->data_url.value_or("");
  const util::Json params = start->params.value_or(util::Json::object());
  o.width = params.contains("width") ? params["width"].get<int>() : 512;
  o.height = params.contains("height") ? params["height"].get<int>() : 512;
  o.max_framerate =
      params.contains("max_framerate") ? std::optional<int>(params["max_framerate"].get<int>()) : std::nullopt;
  o.detect_out_resolution = params.contains("detect_out_resolution") ? truthy(params["detect_out_resolution"]) : true;
  o.subscriber_timeout = options_.subscriber_timeout;
  o.publisher_timeout = options_.publisher_timeout;
  o.request_id = start->gateway_request_id;
  o.start_params = params;

  const std::string request_id = start->gateway_request_id;
  auto log_problem = [id](std::string_view kind, std::string_view message) {
    if (kind == "subscription_ended")
      spdlog::info("stream {}: input ended", id);
    else
      spdlog::warn("stream {}: {} {}", id, kind, message);
  };
  auto stream = slots_.open(id, std::move(*start));
  stream->pipeline =
      std::make_shared<runtime::StreamPipeline>(executor_, stream->processor, std::move(o), std::move(log_problem));
  count_streams();
  stream->pipeline->start();
  spdlog::info("stream {} started: {} -> {}", id, stream->start.subscribe_url.value_or(""),
               stream->start.publish_url.value_or(""));
  // A stream that ends by itself frees its slot at once and stays listed (docs/compatibility.md
  // Q12), so /stream/status still shows the finished client and a stop for it succeeds.
  net::spawn(
      executor_,
      [this, stream, alive = alive_]() -> net::awaitable<void> {
        co_await stream->pipeline->wait_finished();
        if (*alive && slots_.ended(stream)) count_streams();
      },
      "watching a stream's end");

  util::Json started = {{"status", "success"},
                        {"message", "Stream started successfully"},
                        {"request_id", request_id},
                        {"current_state", current_state()}};
  co_return json_response(started);
}

net::awaitable<ApiResponse> StreamApi::stop_stream(const ApiRequest& request) {
  auto [stream, refusal] = addressed(request, "No active stream to stop");
  if (refusal) co_return *refusal;
  util::Json stopped_event = {{"type", "stream_stopped"}, {"timestamp", runtime::unix_time_ms()}};
  stream->pipeline->emit_event(std::move(stopped_event));
  co_await stop_and_wait(stream);
  co_return json_response(util::Json{{"status", "success"}, {"message", "Stream stopped successfully"}});
}

net::awaitable<ApiResponse> StreamApi::update_params(const ApiRequest& request) {
  auto failed = [](const std::string& message) {
    return json_response(util::Json{{"status", "error"}, {"message", "Parameter update failed: " + message}}, 500);
  };
  auto body = parse_json_body(request);
  if (!body) co_return failed(body.error());
  auto data = validate_params_update_request(*body);
  if (!data) co_return failed(data.error());
  auto [stream, refusal] = addressed(request, "No active stream to update");
  if (refusal) co_return *refusal;
  auto pipeline = stream->pipeline;
  if (data->contains("show_loading")) {
    const util::Json& flag = (*data)["show_loading"];
    pipeline->set_manual_loading(flag.is_string() ? util::ascii_lowercase(flag.get<std::string>()) == "true"
                                                  : truthy(flag));
  }
  if (!pipeline->finished()) {
    // Answer once the processor has the new values, as upstream (which awaits update_params)
    // does; a failure there makes the state ERROR while the answer stays a success (docs/compatibility.md Q15).
    auto applied = std::make_shared<bool>(false);
    auto signal = std::make_shared<net::AsyncSignal>(executor_);
    pipeline->update_params(*data,
                            [this, applied, signal, alive = alive_, executor = executor_](std::exception_ptr error) {
                              asio::post(executor, [this, applied, signal, alive, error] {
                                *applied = true;
                                signal->notify_all();
                                if (error && *alive)
                                  state_.set_error("Parameter update failed: " + util::exception_message(error));
                              });
                            });
    const auto deadline = net::Clock::now() + 10s;
    while (!*applied && net::Clock::now() < deadline) {
      co_await signal->wait_for(deadline - net::Clock::now());
    }
  }
  util::Json event = {{"type", "params_updated"}, {"timestamp", runtime::unix_time_ms()}, {"params", *data}};
  pipeline->emit_event(std::move(event));
  co_return json_response(util::Json{{"status", "success"}, {"message", "Parameters updated successfully"}});
}

ApiResponse StreamApi::status(const ApiRequest& request) const {
  auto [stream, refusal] = addressed(request, nullptr);
  if (refusal) return *refusal;
  util::Json body = state_.get_pipeline_state();
  body["client_active"] = stream != nullptr;
  if (stream) {
    body["client_running"] = stream->pipeline->running();
    body["fps"] = stream->pipeline->fps_stats();
    auto text_or_null = [](const std::optional<std::string>& s) { return s ? util::Json(*s) : util::Json(nullptr); };
    body["current_params"] = util::Json{{"subscribe_url", text_or_null(stream->start.subscribe_url)},
                                        {"publish_url", text_or_null(stream->start.publish_url)},
                                        {"gateway_request_id", stream->start.gateway_request_id}};
  }
  if (slots_.many()) {
    util::Json streams = util::Json::object();
    for (const auto& listed : slots_.streams()) {
      streams[listed->id] = {{"running", listed->running()}, {"gateway_request_id", listed->start.gateway_request_id}};
    }
    body["max_streams"] = slots_.capacity();
    body["streams"] = std::move(streams);
  }
  return json_response(body);
}

ApiResponse StreamApi::stats(const ApiRequest& request) const {
  auto [stream, refusal] = addressed(request, nullptr);
  if (refusal) return *refusal;
  return json_response(util::Json{{"stream", stream ? stream->pipeline->stats() : util::Json(nullptr)}});
}

ApiResponse StreamApi::health() const {
  const std::string status = state_.health_status();
  if (status != "ERROR") spdlog::debug("health: {}", status);
  return json_response(util::Json{{"status", status}});
}

ApiResponse StreamApi::version() const {
  return json_response(util::Json{
      {"pipeline", options_.pipeline}, {"model_id", options_.capability_name}, {"version", TRICKLE_VERSION}});
}

ApiResponse StreamApi::hardware(bool stats) const {
  // GPU details come from NVML in the Python package; the C++ worker reports none.
  util::Json body = {{"pipeline", options_.pipeline}, {"model_id", options_.capability_name}};
  body[stats ? "gpu_stats" : "gpu_info"] = util::Json::object();
  return json_response(body);
}

net::awaitable<void> StreamApi::stop() {
  // Every stream is told first, so they wind down together rather than one after the other.
  const auto streams = slots_.streams();
  for (const auto& stream : streams) stream->pipeline->stop();
  for (const auto& stream : streams) co_await stop_and_wait(stream);
}

net::awaitable<void> StreamApi::stop_and_wait(const std::shared_ptr<SlotStream>& stream) {
  stream->pipeline->stop();
  co_await stream->pipeline->wait_finished();
  // Only once the pipeline is done with it does the processor serve another stream.
  slots_.close(stream);
  count_streams();
}

void StreamApi::count_streams() {
  const int running = static_cast<int>(slots_.live().size());
  state_.set_active_client(running > 0);
  state_.update_active_streams(running);
}

}  // namespace trickle::api
