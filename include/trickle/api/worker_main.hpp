#pragma once

// The main() of a C++ worker: parses the command line (host, port, route prefix, pipeline and
// capability names, frame format), serves the processor with a StreamServer until SIGINT or
// SIGTERM, and returns the exit status. A worker's own main() is then one line.

#include <memory>

#include "trickle/runtime/frame_processor.hpp"

namespace trickle::api {

int run_worker(int argc, char** argv, std::shared_ptr<FrameProcessor> processor, const char* description);

}  // namespace trickle::api
