#pragma once
// pytrickle._native.NativeSubscriber / NativePublisher: the C++ trickle clients, driven from
// Python's event loop. Each call starts the operation on the io thread and returns at once; its
// result reaches the given callback on the dispatcher thread (GIL held), which the Python side
// turns into an asyncio future with loop.call_soon_threadsafe.

#include <pybind11/pybind11.h>

namespace trickle::python {

void bind_native_channels(pybind11::module_& module);

}  // namespace trickle::python
