#pragma once
// pytrickle._native.NativeStream: one stream's engine (subscriber, decoder, encoder, publisher
// and the control/events/data channels, all C++ threads) with the processing step left to
// Python. Decoded frames wait in the engine's inbox (bounded, counted drops) until the Python
// event loop, woken through an eventfd it watches with loop.add_reader, takes them in batches;
// results go back without blocking the loop (the caller waits off-loop only when the encoder is
// full).

#include <pybind11/pybind11.h>

namespace trickle::python {

void bind_native_stream(pybind11::module_& module);

}  // namespace trickle::python
