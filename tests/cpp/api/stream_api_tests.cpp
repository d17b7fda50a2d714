// The REST handler core as values: ApiRequest in, ApiResponse out, with upstream PyTrickle's
// routes, status codes, bodies and lifecycle (upstream PyTrickle's StreamServer and StreamState).

#include <algorithm>
#include <atomic>
#include <condition_variable>

#include <boost/test/unit_test.hpp>

#include "protocol/relay_test_support.hpp"
#include "test_support.hpp"
#include "trickle/api/stream_api.hpp"
#include "trickle/net/spawn.hpp"

using namespace trickle;
using namespace trickle::api;
using namespace trickle::test;
using namespace std::chrono_literals;

namespace {

class Recorder : public runtime::FrameProcessor {
 public:
  void load_model(const util::Json&) override {
    std::unique_lock lock(mutex);
    released.wait(lock, [&] { return load_released; });
    if (fail_load) throw std::runtime_error("weights missing");
  }
  std::optional<runtime::VideoFrame> process_video(runtime::VideoFrame frame) override { return frame; }
  void update_params(const util::Json& params) override {
    if (params.contains("explode")) throw std::runtime_error("bad param");
    std::lock_guard lock(mutex);
    last_params = params;
  }
  void release(bool fail = false) {
    std::lock_guard lock(mutex);
    fail_load = fail;
    load_released = true;
    released.notify_all();
  }

  std::mutex mutex;
  std::condition_variable released;
  bool load_released = false, fail_load = false;
  util::Json last_params;
};

ApiRequest post(std::string path, std::string body, std::string type = "application/json") {
  return ApiRequest{"POST", std::move(path), std::move(type), std::move(body), false, "", std::nullopt};
}
ApiRequest get(std::string path) { return ApiRequest{"GET", std::move(path), "", "", false, "", std::nullopt}; }

util::Json body_of(const ApiResponse& response) {
  auto json = util::python_json_loads(response.body);
  BOOST_REQUIRE_MESSAGE(json, response.body);
  return *json;
}

// The request as go-livepeer's orchestrator sends it, naming its stream.
ApiRequest for_stream(ApiRequest request, std::string stream_id) {
  request.stream_id = std::move(stream_id);
  return request;
}

std::string error_body(const std::string& message) {
  return util::python_json_dumps(util::Json{{"status", "error"}, {"message", message}});
}

// A factory that keeps what it made, each processor's model load released at once (or not).
struct Made {
  ProcessorFactory factory(bool released = true) {
    return [this, released] {
      auto processor = std::make_shared<Recorder>();
      if (released) processor->release();
      processors.push_back(processor);
      return processor;
    };
  }
  // How many of the processors have seen a params update.
  int with_params() const {
    return static_cast<int>(std::count_if(processors.begin(), processors.end(), [](const auto& p) {
      std::lock_guard lock(p->mutex);
      return !p->last_params.is_null();
    }));
  }
  std::vector<std::shared_ptr<Recorder>> processors;
};

StreamApiOptions many_streams(int max_streams) {
  StreamApiOptions options;
  options.max_streams = max_streams;
  return options;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_api)

BOOST_AUTO_TEST_CASE(lifecycle_routes_and_messages) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto processor = std::make_shared<Recorder>();
        StreamApi api(executor, processor);

        auto health = co_await api.handle(get("/health"));
        BOOST_TEST(health.body == R"({"status": "LOADING"})");
        BOOST_TEST(health.content_type == "application/json; charset=utf-8");
        // No loading started: a start is refused at once.
        auto early = co_await api.handle(post("/stream/start", R"({"gateway_request_id": "g"})"));
        BOOST_TEST(early.status == 503);
        BOOST_TEST(
            early.body ==
            R"({"status": "error", "message": "Pipeline is still initializing. Please wait for IDLE status.", "current_state": "LOADING"})");

        api.start_loading();
        processor->release();
        const bool idle = co_await eventually([&] { return api.state().health_status() == "IDLE"; });
        BOOST_REQUIRE(idle);

        auto missing = co_await api.handle(get("/nothing/here"));
        BOOST_TEST(missing.status == 404);
        BOOST_TEST(missing.body == "404: Not Found");
        auto wrong_method = co_await api.handle(get("/stream/start"));
        BOOST_TEST(wrong_method.status == 405);
        ApiRequest head_request = get("/health");
        head_request.method = "HEAD";
        auto head = co_await api.handle(head_request);
        BOOST_TEST(head.status == 200);
        auto prefixed = co_await api.handle(get("/api/stream/status"));
        BOOST_TEST(prefixed.status == 404);  // the default prefix is "/" (docs/compatibility.md Q1)

        auto app_version = co_await api.handle(get("/app-version"));
        BOOST_TEST(app_version.body == R"({"version": "0.0.1"})");
        auto version = body_of(co_await api.handle(get("/version")));
        BOOST_TEST(version["pipeline"] == "byoc");
        BOOST_TEST(version.contains("model_id"));
        auto info = body_of(co_await api.handle(get("/hardware/info")));
        BOOST_TEST(info["gpu_info"].is_object());
        auto stats = body_of(co_await api.handle(get("/hardware/stats")));
        BOOST_TEST(stats["gpu_stats"].is_object());

        // Bad starts: 400 with upstream's message, state untouched.
        auto bad_type = co_await api.handle(post("/stream/start", "{}", "text/plain"));
        BOOST_TEST(bad_type.status == 400);
        BOOST_TEST(
            bad_type.body ==
            R"({"status": "error", "message": "Error starting stream: Unknown content type: text/plain", "current_state": "IDLE"})");
        auto no_type = co_await api.handle(post("/stream/start", "{}", ""));
        BOOST_TEST(body_of(no_type)["message"] ==
                   "Error starting stream: Unknown content type: application/octet-stream");
        auto bad_json =
            co_await api.handle(post("/stream/start", "{\"gateway_request_id\": ", "application/json; charset=utf-8"));
        BOOST_TEST(bad_json.status == 400);
        BOOST_TEST(body_of(bad_json)["message"] ==
                   "Error starting stream: Expecting value: line 1 column 24 (char 23)");
        auto invalid = co_await api.handle(post("/stream/start", R"({"params": {"width": 4}})"));
        BOOST_TEST(invalid.status == 400);
        BOOST_TEST(body_of(invalid)["message"].get<std::string>().starts_with(
            "Error starting stream: 2 validation errors for StreamStartRequest\ngateway_request_id\n  Field required"));

        // No stream yet.
        auto stop_nothing = co_await api.handle(post("/stream/stop", ""));
        BOOST_TEST(stop_nothing.status == 400);
        BOOST_TEST(stop_nothing.body == R"({"status": "error", "message": "No active stream to stop"})");
        auto params_nothing = co_await api.handle(post("/stream/params", R"({"a": 1})"));
        BOOST_TEST(params_nothing.status == 400);
        BOOST_TEST(params_nothing.body == R"({"status": "error", "message": "No active stream to update"})");
        auto params_invalid = co_await api.handle(post("/stream/params", R"({"max_framerate": 0})"));
        BOOST_TEST(params_invalid.status == 500);  // validation comes first
        BOOST_TEST(
            params_invalid.body ==
            R"({"status": "error", "message": "Parameter update failed: max_framerate must be a positive integer"})");

        // A stream without channels (only the id is required): OK, then busy.
        auto started =
            co_await api.handle(post("/live-video-to-video", R"({"gateway_request_id": "g1", "params": {"k": 1}})"));
        BOOST_TEST(started.status == 200);
        BOOST_TEST(
            started.body ==
            R"({"status": "success", "message": "Stream started successfully", "request_id": "g1", "current_state": "OK"})");
        auto busy = co_await api.handle(post("/stream/start", R"({"gateway_request_id": "g2"})"));
        BOOST_TEST(busy.status == 503);
        BOOST_TEST(busy.body == R"({"status": "error", "message": "Pipeline is still in use", "current_state": "OK"})");
        auto status = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(status["status"] == "OK");
        BOOST_TEST(status["client_active"] == true);
        BOOST_TEST(status["client_running"] == true);
        BOOST_TEST(status["current_params"] ==
                   (util::Json{{"subscribe_url", nullptr}, {"publish_url", nullptr}, {"gateway_request_id", "g1"}}));
        BOOST_TEST(status["fps"].size() == 4u);

        // Params reach the processor before the answer; a processor failure makes ERROR (docs/compatibility.md Q15).
        auto updated = co_await api.handle(post("/stream/params", R"({"prompt": "cat", "width": "64", "height": 64})"));
        BOOST_TEST(updated.body == R"({"status": "success", "message": "Parameters updated successfully"})");
        {
          std::lock_guard lock(processor->mutex);
          BOOST_TEST(processor->last_params == (util::Json{{"prompt", "cat"}, {"width", 64}, {"height", 64}}));
        }
        auto stopped = co_await api.handle(post("/stream/stop", "ignored"));
        BOOST_TEST(stopped.body == R"({"status": "success", "message": "Stream stopped successfully"})");
        auto after = co_await api.handle(get("/health"));
        BOOST_TEST(after.body == R"({"status": "IDLE"})");

        co_await api.handle(post("/stream/start", R"({"gateway_request_id": "g3"})"));
        auto exploded = co_await api.handle(post("/stream/params", R"({"explode": true})"));
        BOOST_TEST(exploded.status == 200);
        auto error_health = co_await api.handle(get("/health"));
        BOOST_TEST(error_health.body == R"({"status": "ERROR"})");
        co_await api.stop();
        // ERROR is sticky: starts are refused as "initializing" (docs/compatibility.md Q10).
        auto refused = co_await api.handle(post("/stream/start", R"({"gateway_request_id": "g4"})"));
        BOOST_TEST(refused.status == 503);
        BOOST_TEST(body_of(refused)["current_state"] == "ERROR");
      },
      30s);
}

BOOST_AUTO_TEST_CASE(a_failed_model_load_is_a_permanent_error) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto processor = std::make_shared<Recorder>();
        StreamApiOptions options;
        options.route_prefix = "/api/";
        options.pipeline = "my-pipeline";
        options.capability_name = "my-model";
        StreamApi api(executor, processor, options);
        api.start_loading();
        // A start during LOADING waits for the load to finish, then learns the outcome.
        auto waiting_start = [&]() -> net::awaitable<ApiResponse> {
          co_return co_await api.handle(post("/api/stream/start", R"({"gateway_request_id": "g"})"));
        };
        std::optional<ApiResponse> answer;
        auto start_it = [&]() -> net::awaitable<void> { answer = co_await waiting_start(); };
        net::spawn(executor, start_it(), "the waiting start");
        co_await net::sleep_for(50ms);
        BOOST_TEST(!answer.has_value());
        processor->release(true);
        const bool answered = co_await eventually([&] { return answer.has_value(); });
        BOOST_REQUIRE(answered);
        BOOST_TEST(answer->status == 503);
        auto health = co_await api.handle(get("/health"));
        BOOST_TEST(health.body == R"({"status": "ERROR"})");
        auto status = body_of(co_await api.handle(get("/api/stream/status")));
        BOOST_TEST(status["pipeline_state"] == "ERROR");
        BOOST_TEST(status["client_active"] == false);
        auto version = body_of(co_await api.handle(get("/version")));
        BOOST_TEST(version["pipeline"] == "my-pipeline");
        BOOST_TEST(version["model_id"] == "my-model");
      },
      30s);
}

BOOST_AUTO_TEST_CASE(with_a_token_the_stream_routes_need_it) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto processor = std::make_shared<Recorder>();
        processor->release();
        StreamApiOptions options;
        options.auth_token = "s3cret";
        StreamApi api(executor, processor, options);
        api.start_loading();
        BOOST_REQUIRE(co_await eventually([&] { return api.state().health_status() == "IDLE"; }));
        const std::vector<ApiRequest> stream_routes = {post("/stream/start", R"({"gateway_request_id": "g"})"),
                                                       post("/stream/stop", ""),
                                                       post("/stream/params", R"({"a": 1})"),
                                                       get("/stream/status"),
                                                       get("/stream/stats"),
                                                       post("/live-video-to-video", R"({"gateway_request_id": "g"})")};
        for (const auto& route : stream_routes) {
          for (const std::string header : {"", "Basic czNjcmV0", "Bearer", "Bearer wrong", "bearer s3cret!"}) {
            ApiRequest request = route;
            request.authorization = header;
            auto refused = co_await api.handle(request);
            BOOST_TEST_CONTEXT(route.path << " with '" << header << "'") {
              BOOST_TEST(refused.status == 401);
              BOOST_TEST(refused.body == R"({"status": "error", "message": "Unauthorized"})");
              BOOST_TEST(refused.headers.size() == 1u);
              BOOST_TEST(refused.headers.front().first == "WWW-Authenticate");
            }
          }
        }
        BOOST_TEST(processor->last_params.is_null());  // nothing reached the processor
        BOOST_TEST(api.state().health_status() == "IDLE");
        // The right token (any case of the scheme, surrounding blanks) gets the route's own answer.
        ApiRequest stop = post("/stream/stop", "");
        stop.authorization = "  BEARER   s3cret ";
        auto stopped = co_await api.handle(stop);
        BOOST_TEST(stopped.status == 400);
        BOOST_TEST(body_of(stopped)["message"] == "No active stream to stop");
        ApiRequest status = get("/stream/status");
        status.authorization = "Bearer s3cret";
        auto status_answer = co_await api.handle(status);
        BOOST_TEST(status_answer.status == 200);
        BOOST_TEST(status_answer.body.find("s3cret") == std::string::npos);
        // The system routes stay open.
        for (const char* path : {"/health", "/version", "/app-version", "/hardware/info", "/hardware/stats"}) {
          BOOST_TEST_CONTEXT(path) { BOOST_TEST((co_await api.handle(get(path))).status == 200); }
        }
      },
      30s);
}

BOOST_AUTO_TEST_CASE(an_empty_token_checks_nothing) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto processor = std::make_shared<Recorder>();
        processor->release();
        StreamApiOptions options;
        options.auth_token = "";  // even with $CAPABILITY_TOKEN set
        ::setenv("CAPABILITY_TOKEN", "from-env", 1);
        StreamApi open_api(executor, processor, options);
        StreamApi env_api(executor, processor);
        ::unsetenv("CAPABILITY_TOKEN");
        BOOST_TEST((co_await open_api.handle(get("/stream/status"))).status == 200);
        BOOST_TEST((co_await env_api.handle(get("/stream/status"))).status == 401);
        ApiRequest with_env_token = get("/stream/status");
        with_env_token.authorization = "Bearer from-env";
        BOOST_TEST((co_await env_api.handle(with_env_token)).status == 200);
      },
      30s);
}

// docs/many_streams.md, row by row.

BOOST_AUTO_TEST_CASE(many_streams_are_started_and_refused_by_x_stream_id) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Made made;
        StreamApi api(executor, made.factory(), many_streams(3));
        BOOST_TEST(made.processors.size() == 3u);  // one per slot, made up front
        api.start_loading();
        BOOST_REQUIRE(co_await eventually([&] { return api.state().health_status() == "IDLE"; }));

        // The id: the header, else the body's gateway_request_id.
        auto first = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g1"})"), "s1"));
        BOOST_TEST(first.status == 200);
        BOOST_TEST(body_of(first)["request_id"] == "g1");
        auto second = co_await api.handle(post("/live-video-to-video", R"({"gateway_request_id": "g2"})"));
        BOOST_TEST(second.status == 200);
        auto again = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "other"})"), "s1"));
        BOOST_TEST(again.status == 409);
        BOOST_TEST(again.body ==
                   R"({"status": "error", "message": "Stream s1 is already running", "current_state": "OK"})");
        auto by_body = co_await api.handle(post("/stream/start", R"({"gateway_request_id": "g2"})"));
        BOOST_TEST(by_body.status == 409);
        BOOST_TEST(body_of(by_body)["message"] == "Stream g2 is already running");
        auto third = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g3"})"), "s3"));
        BOOST_TEST(third.status == 200);
        auto fourth = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g4"})"), "s4"));
        BOOST_TEST(fourth.status == 503);
        BOOST_TEST(
            fourth.body ==
            R"({"status": "error", "message": "Worker at capacity: 3 of 3 streams running", "current_state": "OK"})");
        BOOST_TEST(api.state().active_streams() == 3);

        // The whole server without the header: upstream's body, no stream's, plus every stream.
        auto overview = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(overview["status"] == "OK");
        BOOST_TEST(overview["active_streams"] == 3);
        BOOST_TEST(overview["client_active"] == false);
        BOOST_TEST(!overview.contains("current_params"));
        BOOST_TEST(overview["max_streams"] == 3);
        const util::Json expected_streams = {{"s1", {{"running", true}, {"gateway_request_id", "g1"}}},
                                             {"g2", {{"running", true}, {"gateway_request_id", "g2"}}},
                                             {"s3", {{"running", true}, {"gateway_request_id", "g3"}}}};
        BOOST_TEST(overview["streams"] == expected_streams);
        // One stream's: upstream's body for it, plus the same two fields.
        auto one = body_of(co_await api.handle(for_stream(get("/stream/status"), "s3")));
        BOOST_TEST(one["client_active"] == true);
        BOOST_TEST(one["client_running"] == true);
        BOOST_TEST(one["current_params"]["gateway_request_id"] == "g3");
        BOOST_TEST(one["fps"].size() == 4u);
        BOOST_TEST(one["max_streams"] == 3);
        BOOST_TEST(one["streams"] == expected_streams);
        auto stats = body_of(co_await api.handle(for_stream(get("/stream/stats"), "g2")));
        BOOST_TEST(stats["stream"].is_object());
        auto no_stats = body_of(co_await api.handle(get("/stream/stats")));
        BOOST_TEST(no_stats["stream"].is_null());

        // Several streams and no header: which one is not guessed.
        const std::string required = error_body("X-Stream-Id is required: 3 streams are running");
        auto stop_which = co_await api.handle(post("/stream/stop", ""));
        BOOST_TEST(stop_which.status == 400);
        BOOST_TEST(stop_which.body == required);
        auto params_which = co_await api.handle(post("/stream/params", R"({"a": 1})"));
        BOOST_TEST(params_which.status == 400);
        BOOST_TEST(params_which.body == required);

        // An unknown id: 404 on every route that addresses a stream.
        const std::vector<ApiRequest> addressing = {post("/stream/stop", ""), post("/stream/params", R"({"a": 1})"),
                                                    get("/stream/status"), get("/stream/stats")};
        for (const auto& route : addressing) {
          auto unknown = co_await api.handle(for_stream(route, "nobody"));
          BOOST_TEST_CONTEXT(route.path) {
            BOOST_TEST(unknown.status == 404);
            BOOST_TEST(unknown.body == error_body("No stream with X-Stream-Id nobody"));
          }
        }
        BOOST_TEST(made.with_params() == 0);

        // Params reach the addressed stream's processor only.
        auto updated = co_await api.handle(for_stream(post("/stream/params", R"({"prompt": "dog"})"), "g2"));
        BOOST_TEST(updated.status == 200);
        BOOST_TEST(made.with_params() == 1);

        // One stopped: its slot is free, the others run on.
        auto stopped = co_await api.handle(for_stream(post("/stream/stop", ""), "s1"));
        BOOST_TEST(stopped.body == R"({"status": "success", "message": "Stream stopped successfully"})");
        BOOST_TEST(api.state().active_streams() == 2);
        auto gone = co_await api.handle(for_stream(get("/stream/status"), "s1"));
        BOOST_TEST(gone.status == 404);
        auto taken = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g5"})"), "s5"));
        BOOST_TEST(taken.status == 200);
        auto full = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g6"})"), "s6"));
        BOOST_TEST(full.status == 503);

        // Down to one stream, the header may be left out.
        for (const char* id : {"g2", "s3"}) {
          auto down = co_await api.handle(for_stream(post("/stream/stop", ""), id));
          BOOST_TEST(down.status == 200);
        }
        auto only = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(only["current_params"]["gateway_request_id"] == "g5");
        BOOST_TEST(only["streams"].size() == 1u);
        auto last = co_await api.handle(post("/stream/stop", ""));
        BOOST_TEST(last.status == 200);
        auto idle_health = co_await api.handle(get("/health"));
        BOOST_TEST(idle_health.body == R"({"status": "IDLE"})");
        // None left: upstream's answers, and an empty list.
        auto nothing = co_await api.handle(post("/stream/stop", ""));
        BOOST_TEST(nothing.body == error_body("No active stream to stop"));
        auto nothing_to_update = co_await api.handle(post("/stream/params", R"({"a": 1})"));
        BOOST_TEST(nothing_to_update.body == error_body("No active stream to update"));
        auto idle = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(idle["client_active"] == false);
        BOOST_TEST(idle["streams"] == util::Json::object());
        BOOST_TEST(idle["max_streams"] == 3);

        // A start with neither header nor gateway_request_id is "default".
        auto unnamed = co_await api.handle(post("/stream/start", R"({"gateway_request_id": ""})"));
        BOOST_TEST(unnamed.status == 200);
        auto named_default = co_await api.handle(for_stream(get("/stream/status"), "default"));
        BOOST_TEST(named_default.status == 200);
        co_await api.stop();
        BOOST_TEST(api.state().active_streams() == 0);
      },
      30s);
}

BOOST_AUTO_TEST_CASE(a_malformed_x_stream_id_is_refused_on_every_stream_route) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Made made;
        StreamApi api(executor, made.factory(), many_streams(2));
        api.start_loading();
        BOOST_REQUIRE(co_await eventually([&] { return api.state().health_status() == "IDLE"; }));
        auto running = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g"})"), "s"));
        BOOST_REQUIRE(running.status == 200);

        const std::vector<ApiRequest> routes = {post("/stream/start", R"({"gateway_request_id": "g2"})"),
                                                post("/live-video-to-video", R"({"gateway_request_id": "g2"})"),
                                                post("/stream/stop", ""),
                                                post("/stream/params", R"({"a": 1})"),
                                                get("/stream/status"),
                                                get("/stream/stats")};
        const std::vector<std::pair<std::string, std::string>> bad_ids = {
            {"", "it is empty"},
            {std::string(129, 'x'), "longer than 128 bytes"},
            {std::string("a\x01") + "b", "only visible ASCII characters (no spaces or control characters)"},
            {"with space", "only visible ASCII characters (no spaces or control characters)"},
            {"caf\xc3\xa9", "only visible ASCII characters (no spaces or control characters)"},
            {"del\x7f", "only visible ASCII characters (no spaces or control characters)"}};
        for (const auto& route : routes) {
          for (const auto& [id, why] : bad_ids) {
            auto refused = co_await api.handle(for_stream(route, id));
            BOOST_TEST_CONTEXT(route.path << " with X-Stream-Id '" << id << "'") {
              BOOST_TEST(refused.status == 400);
              BOOST_TEST(refused.body == error_body("Invalid X-Stream-Id: " + why));
            }
          }
        }
        // The system routes never read the header.
        for (const auto& route : {get("/health"), get("/version")}) {
          BOOST_TEST((co_await api.handle(for_stream(route, "with space"))).status == 200);
        }
        // Nothing was touched: the one stream runs on, unchanged, and nothing reached a processor.
        BOOST_TEST(api.state().active_streams() == 1);
        BOOST_TEST(made.with_params() == 0);
        auto status = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(status["streams"].size() == 1u);
        BOOST_TEST(status["client_running"] == true);
        // 128 visible bytes are an id.
        auto longest = co_await api.handle(for_stream(get("/stream/status"), std::string(128, '~')));
        BOOST_TEST(longest.status == 404);
        co_await api.stop();
      },
      30s);
}

BOOST_AUTO_TEST_CASE(with_one_stream_the_header_is_ignored) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Made made;
        StreamApi api(executor, made.factory(), many_streams(1));
        api.start_loading();
        BOOST_REQUIRE(co_await eventually([&] { return api.state().health_status() == "IDLE"; }));
        auto stop_nothing = co_await api.handle(for_stream(post("/stream/stop", ""), std::string("a\x01") + "b"));
        BOOST_TEST(stop_nothing.body == error_body("No active stream to stop"));
        auto started = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g"})"), ""));
        BOOST_TEST(started.status == 200);
        auto busy = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "h"})"), "other"));
        BOOST_TEST(busy.status == 503);
        BOOST_TEST(body_of(busy)["message"] == "Pipeline is still in use");
        auto status = body_of(co_await api.handle(for_stream(get("/stream/status"), "nobody")));
        BOOST_TEST(status["current_params"]["gateway_request_id"] == "g");
        BOOST_TEST(!status.contains("streams"));
        BOOST_TEST(!status.contains("max_streams"));
        auto stopped = co_await api.handle(for_stream(post("/stream/stop", ""), "nobody"));
        BOOST_TEST(stopped.status == 200);
      },
      30s);
}

// A stream whose input channel is there, to be closed under it: it then ends by itself.
std::string start_body(TestRelay& relay, const std::string& channel, const std::string& gateway_request_id) {
  relay.server.create_channel(channel, "video/mp2t");
  return util::python_json_dumps(
      util::Json{{"subscribe_url", relay.url(channel)}, {"gateway_request_id", gateway_request_id}});
}

BOOST_AUTO_TEST_CASE(a_stream_that_ends_by_itself_frees_its_slot_and_is_remembered) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        TestRelay relay(executor);
        Made made;
        StreamApi api(executor, made.factory(), many_streams(2));
        api.start_loading();
        BOOST_REQUIRE(co_await eventually([&] { return api.state().health_status() == "IDLE"; }));
        auto a = co_await api.handle(for_stream(post("/stream/start", start_body(relay, "in-a", "ga")), "a"));
        BOOST_REQUIRE(a.status == 200);
        auto b = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "gb"})"), "b"));
        BOOST_REQUIRE(b.status == 200);
        auto full = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "gc"})"), "c"));
        BOOST_TEST(full.status == 503);

        // Stream a's input goes away before any media came: the stream ends by itself (a decode
        // error) and its slot is free at once, while it stays listed as ended.
        relay.server.close_channel("in-a");
        BOOST_REQUIRE(co_await eventually([&] { return api.state().active_streams() == 1; }, 10s));
        auto status = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(status["streams"] == (util::Json{{"a", {{"running", false}, {"gateway_request_id", "ga"}}},
                                                    {"b", {{"running", true}, {"gateway_request_id", "gb"}}}}));
        BOOST_TEST(status["current_params"]["gateway_request_id"] == "gb");  // the only one running
        auto ended = body_of(co_await api.handle(for_stream(get("/stream/status"), "a")));
        BOOST_TEST(ended["client_active"] == true);
        BOOST_TEST(ended["client_running"] == false);
        auto health = co_await api.handle(get("/health"));
        BOOST_TEST(health.body == R"({"status": "OK"})");
        auto c = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "gc"})"), "c"));
        BOOST_TEST(c.status == 200);
        auto busy = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "ga2"})"), "a"));
        BOOST_TEST(busy.status == 503);
        BOOST_TEST(body_of(busy)["message"] == "Worker at capacity: 2 of 2 streams running");

        // The orchestrator's stop for the ended stream succeeds, as upstream's does; then it is gone.
        auto stop_ended = co_await api.handle(for_stream(post("/stream/stop", ""), "a"));
        BOOST_TEST(stop_ended.body == R"({"status": "success", "message": "Stream stopped successfully"})");
        auto gone = co_await api.handle(for_stream(get("/stream/status"), "a"));
        BOOST_TEST(gone.status == 404);
        BOOST_TEST(api.state().active_streams() == 2);
        co_await api.stop();
        auto idle = co_await api.handle(get("/health"));
        BOOST_TEST(idle.body == R"({"status": "IDLE"})");
      },
      30s);
}

BOOST_AUTO_TEST_CASE(ended_streams_are_restarted_by_id_and_the_oldest_forgotten) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        TestRelay relay(executor);
        Made made;
        StreamApi api(executor, made.factory(), many_streams(2));
        api.start_loading();
        BOOST_REQUIRE(co_await eventually([&] { return api.state().health_status() == "IDLE"; }));
        // Three streams end by themselves, one after the other.
        for (const std::string id : {"x", "y", "z"}) {
          auto started = co_await api.handle(for_stream(post("/stream/start", start_body(relay, id, "g" + id)), id));
          BOOST_REQUIRE(started.status == 200);
          relay.server.close_channel(id);
          BOOST_REQUIRE(co_await eventually([&] { return api.state().active_streams() == 0; }, 10s));
        }
        // The most recent two are remembered (max_streams of them), the oldest forgotten.
        auto status = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(status["streams"] == (util::Json{{"y", {{"running", false}, {"gateway_request_id", "gy"}}},
                                                    {"z", {{"running", false}, {"gateway_request_id", "gz"}}}}));
        BOOST_TEST(status["current_params"]["gateway_request_id"] == "gz");  // none running: the last to end
        auto forgotten = co_await api.handle(for_stream(get("/stream/status"), "x"));
        BOOST_TEST(forgotten.status == 404);
        auto idle = co_await api.handle(get("/health"));
        BOOST_TEST(idle.body == R"({"status": "IDLE"})");

        // A start with an ended stream's id starts it again.
        auto again = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "gy2"})"), "y"));
        BOOST_TEST(again.status == 200);
        auto restarted = body_of(co_await api.handle(for_stream(get("/stream/status"), "y")));
        BOOST_TEST(restarted["client_running"] == true);
        BOOST_TEST(restarted["current_params"]["gateway_request_id"] == "gy2");
        BOOST_TEST(restarted["streams"].size() == 2u);
        // Without the header, the one running stream is addressed, not the ended one.
        auto stopped = co_await api.handle(post("/stream/stop", ""));
        BOOST_TEST(stopped.status == 200);
        auto after = body_of(co_await api.handle(get("/stream/status")));
        BOOST_TEST(after["streams"] == (util::Json{{"z", {{"running", false}, {"gateway_request_id", "gz"}}}}));
        co_await api.stop();
      },
      30s);
}

BOOST_AUTO_TEST_CASE(every_slot_loads_its_model_before_idle) {
  run_async(
      [&]() -> net::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Made made;
        StreamApi api(executor, made.factory(false), many_streams(3));
        BOOST_REQUIRE(made.processors.size() == 3u);
        api.start_loading();
        made.processors[0]->release();
        made.processors[1]->release();
        co_await net::sleep_for(50ms);
        BOOST_TEST(api.state().health_status() == "LOADING");
        made.processors[2]->release(true);
        BOOST_REQUIRE(co_await eventually([&] { return api.state().health_status() == "ERROR"; }));
        auto refused = co_await api.handle(for_stream(post("/stream/start", R"({"gateway_request_id": "g"})"), "s"));
        BOOST_TEST(refused.status == 503);
        BOOST_TEST(body_of(refused)["current_state"] == "ERROR");
      },
      30s);
}

BOOST_AUTO_TEST_CASE(many_streams_need_a_processor_each) {
  asio::io_context io;
  auto processor = std::make_shared<Recorder>();
  BOOST_CHECK_THROW(StreamApi(io.get_executor(), processor, many_streams(2)), std::invalid_argument);
  Made made;
  BOOST_CHECK_THROW(StreamApi(io.get_executor(), made.factory(), many_streams(0)), std::invalid_argument);
  BOOST_CHECK_THROW(StreamApi(io.get_executor(), made.factory(), many_streams(257)), std::invalid_argument);
  BOOST_TEST(made.processors.empty());
  ProcessorFactory nothing = [] { return std::shared_ptr<runtime::FrameProcessor>(); };
  BOOST_CHECK_THROW(StreamApi(io.get_executor(), nothing, many_streams(2)), std::invalid_argument);
  StreamApi fine(io.get_executor(), made.factory(), many_streams(256));
  BOOST_TEST(made.processors.size() == 256u);
}

BOOST_AUTO_TEST_SUITE_END()
