#pragma once
// Engine threads never take the GIL: what they have for Python (log records, completions of
// asynchronous calls) is queued here, and one dispatcher thread runs it with the GIL held. So an
// engine thread holding a lock can never wait on a Python thread that waits on that lock.

#include <functional>

namespace trickle::python {

// Queues `work` to run on the dispatcher thread with the GIL held. Dropped after shutdown.
void dispatch_to_python(std::function<void()> work);
// Runs what is queued and stops the thread (at interpreter exit, called with the GIL held).
void shutdown_dispatcher();
// Sends the engine's spdlog records to Python's logging (logger "pytrickle.engine").
void forward_engine_logs();

}  // namespace trickle::python
