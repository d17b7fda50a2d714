#pragma once
// pytrickle._native.NativeHttpServer: the engine's HTTP server as the Python StreamServer's
// transport. Requests are read (body included, bounded) on the io thread, then queued for the
// event loop, woken through an eventfd; the loop's handler core answers with respond(). aiohttp
// is only needed for what is aiohttp's own (custom routes, middleware, get_app(), ...).

#include <pybind11/pybind11.h>

namespace trickle::python {

void bind_native_http(pybind11::module_& module);

}  // namespace trickle::python
