// The REST handler core as values: ApiRequest in, ApiResponse out, with upstream PyTrickle's
// routes, status codes, bodies and lifecycle (upstream PyTrickle's StreamServer and StreamState).

#include <atomic>
#include <condition_variable>

#include <boost/test/unit_test.hpp>

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
  return ApiRequest{"POST", std::move(path), std::move(type), std::move(body)};
}
ApiRequest get(std::string path) { return ApiRequest{"GET", std::move(path), "", ""}; }

util::Json body_of(const ApiResponse& response) {
  auto json = util::python_json_loads(response.body);
  BOOST_REQUIRE_MESSAGE(json, response.body);
  return *json;
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

BOOST_AUTO_TEST_SUITE_END()
