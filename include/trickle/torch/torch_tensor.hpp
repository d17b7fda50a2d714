#pragma once

// LibTorch adapter, header-only (only projects that have LibTorch compile it): an engine Tensor
// viewed as an at::Tensor and back, through DLPack, sharing the memory (no copy either way).
//
// Include this header before any other engine header: LibTorch ships DLPack 1.x as ATen/dlpack.h
// under the same include guard as Debian's 0.6 <dlpack/dlpack.h>, and 1.x is a superset of the
// legacy DLManagedTensor API the engine exchanges, so torch's copy must be the one that is seen.

#include <ATen/ATen.h>
#include <ATen/DLConvertor.h>

#include "trickle/tensor/dlpack.hpp"

namespace trickle::tensor {

// The at::Tensor keeps the engine's buffer alive (a pooled frame returns to its pool once torch
// lets go of it).
inline at::Tensor to_torch(const Tensor& tensor) { return at::fromDLPack(to_dlpack(tensor)); }

// The engine Tensor keeps torch's storage alive.
inline Tensor from_torch(const at::Tensor& tensor) { return from_dlpack(at::toDLPack(tensor)); }

}  // namespace trickle::tensor

// Also in trickle::, the names a worker's author writes (docs/architecture.md, "Namespaces").
namespace trickle {
using tensor::from_torch;
using tensor::to_torch;
}  // namespace trickle
