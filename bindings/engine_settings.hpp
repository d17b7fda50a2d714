#pragma once
// pytrickle._native.EngineSettings: what a Python stream asks of the engine, as keyword arguments
// with types. An unknown name or a value of the wrong type raises TypeError when the settings are
// made, instead of being ignored or failing deep inside the engine. Every setting that is not
// given keeps the engine's own default (StreamPipelineOptions).

#include <pybind11/pybind11.h>

#include "trickle/runtime/stream_pipeline.hpp"

namespace trickle::python {

struct EngineSettings {
  runtime::StreamPipelineOptions options;
};

void bind_engine_settings(pybind11::module_& module);

}  // namespace trickle::python
