#pragma once
// The one Asio io thread the Python module's native objects share (trickle clients, stream
// pipelines). It starts on first use and runs until the interpreter exits.

#include "trickle/net/asio.hpp"

namespace trickle::python {

net::Executor io_executor();
// Stops the io thread (at interpreter exit): pending work is abandoned.
void shutdown_io();

}  // namespace trickle::python
