#include "io_runtime.hpp"

#include <memory>
#include <mutex>
#include <thread>

#include "trickle/util/thread_name.hpp"

namespace trickle::python {
namespace {

struct IoRuntime {
  asio::io_context context;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(context);
  std::thread thread{[this] {
    util::name_this_thread("trk-io");
    context.run();
  }};

  ~IoRuntime() {
    work.reset();
    context.stop();
    if (thread.joinable()) thread.join();
  }
};

std::mutex runtime_mutex;
std::unique_ptr<IoRuntime> runtime;

}  // namespace

net::Executor io_executor() {
  std::lock_guard lock(runtime_mutex);
  if (!runtime) runtime = std::make_unique<IoRuntime>();
  return runtime->context.get_executor();
}

void shutdown_io() {
  std::unique_ptr<IoRuntime> ending;
  {
    std::lock_guard lock(runtime_mutex);
    ending = std::move(runtime);
  }
}

}  // namespace trickle::python
