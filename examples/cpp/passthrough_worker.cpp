// The smallest C++ worker: every frame goes out as it came in. Serves upstream PyTrickle's REST
// routes; start a stream with POST /stream/start {"subscribe_url", "publish_url", ...}.
//
//   passthrough_worker --port 8000

#include <spdlog/spdlog.h>

#include "trickle/api/worker_main.hpp"

class PassthroughProcessor final : public trickle::FrameProcessor {
 public:
  std::optional<trickle::VideoFrame> process_video(trickle::VideoFrame frame) override { return frame; }

  void update_params(const trickle::Json& params) override {
    spdlog::info("passthrough: params {}", trickle::python_json_dumps(params));
  }
};

int main(int argc, char** argv) {
  return trickle::api::run_worker(
      argc, argv, [] { return std::make_shared<PassthroughProcessor>(); },
      "Trickle worker that publishes its input unchanged");
}
