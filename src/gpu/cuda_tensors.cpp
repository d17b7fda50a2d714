#include "trickle/gpu/cuda_tensors.hpp"

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace trickle::gpu {

namespace {

std::string cuda_message(const char* what, cudaError_t error) {
  return std::string(what) + ": " + cudaGetErrorString(error);
}

// Elements from the first to the last one a strided view touches, plus one.
std::int64_t strided_span(const tensor::Tensor& tensor) {
  std::int64_t last = 0;
  for (std::int64_t d = 0; d < tensor.dim(); ++d) {
    if (tensor.size(d) == 0) return 0;
    last += (tensor.size(d) - 1) * tensor.stride(d);
  }
  return last + 1;
}

}  // namespace

struct CudaBufferPool::State {
  explicit State(std::size_t max_idle) : max_idle_buffers(max_idle) {}
  ~State() {
    for (auto& [key, buffers] : idle) {
      for (void* buffer : buffers) cudaFree(buffer);
    }
  }
  const std::size_t max_idle_buffers;
  std::mutex mutex;
  // Keyed by (device, bytes): a frame format fixes the size.
  std::unordered_map<std::uint64_t, std::vector<void*>> idle;
  std::size_t idle_total = 0;
};

CudaBufferPool::CudaBufferPool(std::size_t max_idle_buffers) : state_(std::make_shared<State>(max_idle_buffers)) {}

CudaBufferPool::~CudaBufferPool() = default;

tl::expected<tensor::Tensor, std::string> CudaBufferPool::acquire(tensor::Tensor::Shape shape, tensor::DType dtype,
                                                                  int device_index) {
  std::size_t bytes = tensor::dtype_size(dtype);
  for (std::int64_t extent : shape) bytes *= static_cast<std::size_t>(extent);
  const std::uint64_t key = (static_cast<std::uint64_t>(device_index) << 56) | bytes;
  void* buffer = nullptr;
  {
    std::lock_guard lock(state_->mutex);
    auto found = state_->idle.find(key);
    if (found != state_->idle.end() && !found->second.empty()) {
      buffer = found->second.back();
      found->second.pop_back();
      --state_->idle_total;
    }
  }
  if (buffer == nullptr) {
    if (cudaError_t error = cudaSetDevice(device_index); error != cudaSuccess) {
      return tl::unexpected(cuda_message("cudaSetDevice", error));
    }
    if (cudaError_t error = cudaMalloc(&buffer, bytes == 0 ? 1 : bytes); error != cudaSuccess) {
      return tl::unexpected(cuda_message("cudaMalloc", error));
    }
  }
  std::weak_ptr<State> pool = state_;
  std::shared_ptr<void> storage(buffer, [pool, key](void* memory) noexcept {
    if (auto state = pool.lock()) {
      std::lock_guard lock(state->mutex);
      if (state->idle_total < state->max_idle_buffers) {
        try {
          state->idle[key].push_back(memory);
          ++state->idle_total;
          return;
        } catch (...) {
          // No memory for the bookkeeping: free below.
        }
      }
    }
    cudaFree(memory);
  });
  return tensor::Tensor::from_storage(std::move(storage), buffer, std::move(shape), {}, dtype,
                                      tensor::Device::cuda(device_index));
}

tl::expected<tensor::Tensor, std::string> copy_to_host(const tensor::Tensor& tensor) {
  if (!tensor.defined() || tensor.device().is_cpu()) {
    return tensor;
  }
  const std::int64_t span = strided_span(tensor);
  const std::size_t bytes = static_cast<std::size_t>(span) * tensor::dtype_size(tensor.dtype());
  tensor::Tensor host = tensor::Tensor::empty({span}, tensor.dtype());
  if (bytes > 0) {
    // Synchronous on the legacy default stream: ordered after the producer's work there; a
    // producer on its own stream must have synchronised (as DLPack's contract asks).
    if (cudaError_t error = cudaMemcpy(host.data(), tensor.data(), bytes, cudaMemcpyDeviceToHost);
        error != cudaSuccess) {
      return tl::unexpected(cuda_message("copying a CUDA tensor to the host", error));
    }
  }
  std::shared_ptr<void> keep(host.data(), [host](void*) noexcept {});
  return tensor::Tensor::from_storage(std::move(keep), host.data(), tensor.shape(), tensor.strides(), tensor.dtype(),
                                      tensor::Device::cpu());
}

}  // namespace trickle::gpu
