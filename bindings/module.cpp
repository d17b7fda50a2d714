// pytrickle._native: the C++ engine as the Python package sees it. Thin on purpose: the logic
// lives in the engine (src/) and in the Python modules (python/pytrickle/).

#include <pybind11/pybind11.h>

extern "C" {
#include <libavutil/log.h>
}

#include "io_runtime.hpp"
#include "native_channels.hpp"
#include "native_relay.hpp"
#include "native_http.hpp"
#include "native_stream.hpp"
#include "python_dispatcher.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_native, m) {
  m.doc() = "The trickle engine (C++) behind the pytrickle package.";
  trickle::python::forward_engine_logs();
  // FFmpeg's own chatter (x264's statistics, ...) stays off the user's terminal; errors still show.
  av_log_set_level(AV_LOG_ERROR);
  trickle::python::bind_native_stream(m);
  trickle::python::bind_native_channels(m);
  trickle::python::bind_native_relay(m);
  trickle::python::bind_native_http(m);
  // At interpreter exit: finish pending callbacks, then stop the io thread.
  py::module_::import("atexit").attr("register")(py::cpp_function([] {
    trickle::python::shutdown_dispatcher();
    py::gil_scoped_release release;
    trickle::python::shutdown_io();
  }));
}
