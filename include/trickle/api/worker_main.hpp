#pragma once

// The main() of a C++ worker: parses the command line (host, port, route prefix, pipeline and
// capability names, frame format, GPU switches, streams per process), serves the processor with
// a StreamServer until SIGINT or SIGTERM, and returns the exit status. A worker's own main() is
// then one line.

#include <memory>

#include "trickle/api/processor_factory.hpp"
#include "trickle/runtime/frame_processor.hpp"

namespace trickle::api {

// `--streams N` serves N streams at once on the one --port (docs/many_streams.md): each request
// names its stream in the X-Stream-Id header, as go-livepeer's orchestrator sends it, and a start
// past N answers 503. `make_processor` is called N times up front, a processor per stream slot;
// they share the process, so on a GPU they share its CUDA context and model weights a processor
// keeps in static storage. With N 1 (the default) the worker is upstream's one-stream server.
int run_worker(int argc, char** argv, ProcessorFactory make_processor, const char* description);

// One processor instance: the worker serves one stream (--streams above 1 is refused).
int run_worker(int argc, char** argv, std::shared_ptr<runtime::FrameProcessor> processor, const char* description);

}  // namespace trickle::api
