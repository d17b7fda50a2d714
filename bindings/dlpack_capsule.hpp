#pragma once
// Tensors cross into Python as DLPack 0.6 "dltensor" capsules (torch.from_dlpack takes them
// without copying) and come back through the object's own __dlpack__() (torch, numpy, cupy, ...).

#include <pybind11/pybind11.h>

#include "trickle/tensor/tensor.hpp"

namespace trickle::python {

// A capsule sharing the tensor's memory; if nobody consumes it, its destructor frees the share.
pybind11::capsule to_capsule(const tensor::Tensor& tensor);
// The memory behind any object with __dlpack__ (or a "dltensor" capsule), without copying.
// Throws TypeError for objects that cannot export, ValueError for dtypes/devices we do not take.
tensor::Tensor tensor_from_python(pybind11::handle object);

}  // namespace trickle::python
