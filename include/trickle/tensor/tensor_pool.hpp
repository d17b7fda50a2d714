#pragma once

// Recycles frame buffers so steady-state decoding does not allocate a frame's memory per frame:
// a released tensor's buffer goes back to the pool and the next acquire() of the same byte size
// gets it again.

#include <cstddef>
#include <memory>

#include <trickle/tensor/tensor.hpp>

namespace trickle::tensor {

class TensorPool {
 public:
  // At most max_idle_buffers released buffers are kept (of any sizes together); more are freed,
  // so a burst or a resolution change does not pin memory for ever.
  explicit TensorPool(std::size_t max_idle_buffers = 8);
  ~TensorPool();

  TensorPool(const TensorPool&) = delete;
  TensorPool& operator=(const TensorPool&) = delete;

  // A contiguous, 64-byte aligned, uninitialised CPU tensor; reuses an idle buffer of the same
  // byte size when there is one.
  Tensor acquire(Tensor::Shape shape, DType dtype);

  // Buffers waiting for reuse.
  std::size_t idle_count() const;
  // Buffers allocated so far (reuses are not counted): steady state means this stops growing.
  std::size_t allocations() const;

  struct State;

 private:
  // Shared with every buffer handed out: tensors may be released on any thread, also after the
  // pool is gone, in which case their memory is simply freed.
  std::shared_ptr<State> state_;
};

}  // namespace trickle::tensor
