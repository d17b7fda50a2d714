#include <trickle/tensor/tensor_pool.hpp>

#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aligned_memory.hpp"

namespace trickle::tensor {

struct TensorPool::State {
  explicit State(std::size_t max_idle) : max_idle_buffers(max_idle) {}

  ~State() {
    for (auto& [bytes, buffers] : idle) {
      for (void* buffer : buffers) detail::free_aligned(buffer);
    }
  }

  State(const State&) = delete;
  State& operator=(const State&) = delete;

  const std::size_t max_idle_buffers;
  mutable std::mutex mutex;
  // Keyed by exact byte size: a frame format fixes the size, so exact matches are what
  // steady state produces, and never handing out a larger buffer keeps nbytes honest.
  std::unordered_map<std::size_t, std::vector<void*>> idle;
  std::size_t idle_total = 0;
  std::size_t allocations = 0;
};

namespace {

// The storage deleter of every pooled tensor. It holds the pool only weakly, so tensors that
// outlive the pool free their buffer instead of keeping the whole pool alive.
struct ReturnToPool {
  std::weak_ptr<TensorPool::State> pool;
  std::size_t bytes;

  void operator()(void* buffer) const noexcept {
    if (auto state = pool.lock()) {
      std::unique_lock lock(state->mutex);
      if (state->idle_total < state->max_idle_buffers) {
        try {
          state->idle[bytes].push_back(buffer);
          ++state->idle_total;
          return;
        } catch (...) {
          // Out of memory for the bookkeeping: freeing the buffer below is the safe fallback.
        }
      }
    }
    detail::free_aligned(buffer);
  }
};

}  // namespace

TensorPool::TensorPool(std::size_t max_idle_buffers) : state_(std::make_shared<State>(max_idle_buffers)) {}

// Idle buffers go with the State, which outstanding tensors do not keep alive.
TensorPool::~TensorPool() = default;

Tensor TensorPool::acquire(Tensor::Shape shape, DType dtype) {
  // The same checks as Tensor::empty: a bad shape must never size a buffer.
  std::int64_t numel = 1;
  for (std::int64_t size : shape) {
    if (size < 0 || __builtin_mul_overflow(numel, size, &numel)) {
      throw std::invalid_argument("TensorPool::acquire: invalid shape");
    }
  }
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::size_t>(numel), dtype_size(dtype), &bytes)) {
    throw std::invalid_argument("TensorPool::acquire: shape too large");
  }

  void* buffer = nullptr;
  {
    std::lock_guard lock(state_->mutex);
    auto found = state_->idle.find(bytes);
    if (found != state_->idle.end() && !found->second.empty()) {
      buffer = found->second.back();
      found->second.pop_back();
      --state_->idle_total;
    }
  }
  if (buffer == nullptr) {
    buffer = detail::allocate_aligned(bytes);  // outside the lock: allocation may be slow
    std::lock_guard lock(state_->mutex);
    ++state_->allocations;
  }

  // On a throw from here the shared_ptr (or its constructor) runs ReturnToPool, so the buffer
  // is never lost.
  std::shared_ptr<void> storage(buffer, ReturnToPool{state_, bytes});
  Tensor::Shape strides = contiguous_strides(shape);
  return Tensor::from_storage(std::move(storage), buffer, std::move(shape), std::move(strides), dtype, Device::cpu());
}

std::size_t TensorPool::idle_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->idle_total;
}

std::size_t TensorPool::allocations() const {
  std::lock_guard lock(state_->mutex);
  return state_->allocations;
}

}  // namespace trickle::tensor
