#include "trickle/gpu/cuda_device.hpp"

#if defined(TRICKLE_HAVE_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace trickle::gpu {

namespace {

CudaDevice probe() {
  CudaDevice device;
#if defined(TRICKLE_HAVE_CUDA)
  const cudaError_t error = cudaGetDeviceCount(&device.count);
  if (error != cudaSuccess) {
    device.count = 0;
    device.why_not = std::string("CUDA is unavailable: ") + cudaGetErrorString(error);
    return device;
  }
  if (device.count == 0) {
    device.why_not = "no CUDA device";
    return device;
  }
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, 0) == cudaSuccess) {
    device.name = properties.name;
  }
  device.usable = true;
#else
  device.why_not = "built without CUDA (CMake found no CUDA compiler)";
#endif
  return device;
}

}  // namespace

const CudaDevice& cuda_device() {
  static const CudaDevice device = probe();
  return device;
}

}  // namespace trickle::gpu
