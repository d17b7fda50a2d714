// The C++ worker bench/soak.py runs: a passthrough whose processor can be told, through the
// stream's params, to fail. {"soak_raise": true} makes process_video throw on every frame until
// {"soak_raise": false}: the "processor raising" fault of the soak.
//
//   soak_worker --port 8000 [--streams N]   (every flag of run_worker)

#include <atomic>
#include <stdexcept>

#include "trickle/api/worker_main.hpp"

class FailOnRequest final : public trickle::FrameProcessor {
 public:
  std::optional<trickle::VideoFrame> process_video(trickle::VideoFrame frame) override {
    if (raising_.load()) throw std::runtime_error("soak: the processor raises, as asked");
    return frame;
  }

  void update_params(const trickle::Json& params) override {
    if (params.is_object() && params.contains("soak_raise")) raising_ = params.value("soak_raise", false);
  }

 private:
  std::atomic<bool> raising_{false};
};

int main(int argc, char** argv) {
  return trickle::api::run_worker(
      argc, argv, [] { return std::make_shared<FailOnRequest>(); }, "Passthrough worker for the soak (bench/soak.py)");
}
