#pragma once
// pytrickle._native.NativeRelay: the engine's trickle relay (the server side of the protocol)
// inside the Python process, on the shared io thread: for demos, tests and local pipelines that
// have no go-livepeer gateway.

#include <pybind11/pybind11.h>

namespace trickle::python {

void bind_native_relay(pybind11::module_& module);

}  // namespace trickle::python
