#include "python_dispatcher.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <pybind11/pybind11.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "trickle/util/thread_name.hpp"

namespace py = pybind11;

namespace trickle::python {
namespace {

class Dispatcher {
 public:
  void post(std::function<void()> work) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      queue_.push_back(std::move(work));
      if (!thread_.joinable())
        thread_ = std::thread([this] {
          util::name_this_thread("trk-py-dispatch");
          run();
        });
    }
    ready_.notify_one();
  }

  // Called with the GIL held: release it while the thread finishes what it has.
  void shutdown() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    ready_.notify_one();
    py::gil_scoped_release release;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    for (;;) {
      std::deque<std::function<void()>> batch;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch.swap(queue_);
      }
      if (_Py_IsFinalizing()) return;
      py::gil_scoped_acquire gil;
      for (auto& work : batch) {
        try {
          work();
        } catch (py::error_already_set& e) {
          e.discard_as_unraisable("pytrickle native callback");
        } catch (const std::exception&) {
          // Nothing sensible to report to: the callback itself is what failed.
        }
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopped_ = false;
  std::thread thread_;
};

Dispatcher& dispatcher() {
  static auto* instance = new Dispatcher;  // lives to the end: threads may still post at exit
  return *instance;
}

int python_level(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return 10;
    case spdlog::level::info: return 20;
    case spdlog::level::warn: return 30;
    case spdlog::level::err: return 40;
    case spdlog::level::critical: return 50;
    default: return 0;
  }
}

class PythonLoggingSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const int level = python_level(msg.level);
    if (level == 0) return;
    std::string text(msg.payload.data(), msg.payload.size());
    dispatch_to_python([level, text = std::move(text)] {
      // Kept for the life of the process: destroying it after the interpreter would crash.
      static auto* logger = new py::object(py::module_::import("logging").attr("getLogger")("pytrickle.engine"));
      logger->attr("log")(level, "%s", text);
    });
  }
  void flush_() override {}
};

}  // namespace

void dispatch_to_python(std::function<void()> work) { dispatcher().post(std::move(work)); }

void shutdown_dispatcher() { dispatcher().shutdown(); }

void forward_engine_logs() {
  auto logger = std::make_shared<spdlog::logger>("pytrickle", std::make_shared<PythonLoggingSink>());
  // Python's logging decides what is shown; everything from info up crosses over.
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace trickle::python
