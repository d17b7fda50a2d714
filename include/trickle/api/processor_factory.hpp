#pragma once

// How a worker that serves several streams at once gets a processor for each: the factory is
// called once per stream slot, up front, so that no processor is ever used by two streams (the
// engine calls a processor from one thread at a time, runtime/frame_processor.hpp).

#include <functional>
#include <memory>

#include "trickle/runtime/frame_processor.hpp"

namespace trickle::api {

using ProcessorFactory = std::function<std::shared_ptr<runtime::FrameProcessor>()>;

}  // namespace trickle::api
