#pragma once

// CUDA kernels of the GPU path, behind a plain C++ API (no CUDA header, no CUDA types): the
// pointers in the views are device pointers, `stream` is a cudaStream_t (null: the legacy default
// stream). Each call only enqueues work; the caller records an event or synchronises.
// Built only when CMake finds CUDA (TRICKLE_HAVE_CUDA); the arithmetic is that of
// nv12_reference.hpp, pixel for pixel.

#include <string>

#include "trickle/gpu/nv12_images.hpp"

namespace trickle::gpu {

// Empty on success, else what CUDA said.
using KernelError = std::string;

// Decoded NV12 surface → the target RGB tensor (cover-scale + centre-crop, uint8 or float32).
KernelError nv12_to_rgb(const Nv12View& source, const RgbView& target, YuvColour colour, void* stream);

// A processed RGB tensor → NV12 for the encoder.
KernelError rgb_to_nv12(const RgbView& source, const Nv12Image& target, ColourMatrix matrix, void* stream);

}  // namespace trickle::gpu
