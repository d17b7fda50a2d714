#pragma once
// The one Asio io thread the Python module's native objects share (trickle clients, stream
// pipelines). It starts on first use and runs until the interpreter exits.

#include <future>
#include <utility>

#include <pybind11/pybind11.h>

#include "trickle/net/asio.hpp"

namespace trickle::python {

net::Executor io_executor();
// Stops the io thread (at interpreter exit): pending work is abandoned.
void shutdown_io();

// Runs `work` on the io thread and waits for its result with the GIL released (call with it held).
template <typename Work>
auto run_on_io(Work work) {
  using Result = decltype(work());
  std::packaged_task<Result()> task(std::move(work));
  auto result = task.get_future();
  asio::post(io_executor(), [&task] { task(); });
  pybind11::gil_scoped_release release;
  return result.get();
}

}  // namespace trickle::python
