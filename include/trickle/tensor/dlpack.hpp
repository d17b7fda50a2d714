#pragma once

// Zero-copy exchange with torch, numpy and anything else that speaks DLPack 0.6 (the legacy,
// unversioned DLManagedTensor, which is what the "dltensor" capsule carries).

#include <dlpack/dlpack.h>

#include <trickle/tensor/tensor.hpp>

namespace trickle::tensor {

// Exports without copying. The returned manager holds a share of the storage until its deleter
// runs; the caller (or whoever it hands the manager to) must call that deleter exactly once.
// Strides are always filled in, even for contiguous tensors. Throws std::invalid_argument for an
// undefined tensor.
DLManagedTensor* to_dlpack(const Tensor& tensor);

// Imports without copying and takes ownership of `managed`: its deleter runs once, when the last
// Tensor sharing the memory goes away. Unsupported dtypes (bf16, complex, bool, lanes != 1, ...)
// or devices (kDLCUDAHost, ...) throw std::invalid_argument naming what was found, after calling
// the deleter, so a rejected import leaks nothing. NULL strides mean contiguous; byte_offset is
// added to the data pointer.
Tensor from_dlpack(DLManagedTensor* managed);

}  // namespace trickle::tensor
