#pragma once

// The main() of a C++ worker: parses the command line (host, port, route prefix, pipeline and
// capability names, frame format, GPU switches, streams per process), serves the processor with
// StreamServers until SIGINT or SIGTERM, and returns the exit status. A worker's own main() is
// then one line.

#include <functional>
#include <memory>

#include "trickle/runtime/frame_processor.hpp"

namespace trickle::api {

using ProcessorFactory = std::function<std::shared_ptr<runtime::FrameProcessor>()>;

// `--streams N` serves N streams at once from this process: N StreamServers (each upstream's
// one-stream REST API, on ports port, port + 1, ...; with --port 0 each picks a free one), each
// with a processor of its own from `make_processor`. They share the process, so on a GPU they
// share its CUDA context and model weights a processor keeps in static storage.
int run_worker(int argc, char** argv, ProcessorFactory make_processor, const char* description);

// One processor instance: the worker serves one stream (--streams above 1 is refused).
int run_worker(int argc, char** argv, std::shared_ptr<runtime::FrameProcessor> processor, const char* description);

}  // namespace trickle::api
