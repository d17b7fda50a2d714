#pragma once

// Tensors in CUDA memory: a pool of device buffers, so steady-state decoding to GPU frames
// allocates nothing per frame, and the copy back to the host for the consumers that need one (the
// x264 encoder fed by a C++ processor that answered with a CUDA tensor). Built with CUDA only.

#include <cstddef>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "trickle/tensor/tensor.hpp"

namespace trickle::gpu {

class CudaBufferPool {
 public:
  explicit CudaBufferPool(std::size_t max_idle_buffers = 8);
  ~CudaBufferPool();
  CudaBufferPool(const CudaBufferPool&) = delete;
  CudaBufferPool& operator=(const CudaBufferPool&) = delete;

  // A contiguous, uninitialised tensor on CUDA device `device_index`; an idle buffer of the same
  // size when there is one. Tensors may outlive the pool (their memory is then simply freed).
  tl::expected<tensor::Tensor, std::string> acquire(tensor::Tensor::Shape shape, tensor::DType dtype, int device_index);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// A CPU tensor with the same shape, strides and values (the strided span is copied as it is).
// CPU tensors come back unchanged.
tl::expected<tensor::Tensor, std::string> copy_to_host(const tensor::Tensor& tensor);

}  // namespace trickle::gpu
