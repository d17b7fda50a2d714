#pragma once

// Whether this process can run CUDA work, asked once, and why not when it cannot: a build
// without CUDA, no driver, no device. Everything that offers a GPU path asks here first and
// falls back to the CPU path with this reason in its log line.

#include <string>

namespace trickle::gpu {

struct CudaDevice {
  bool usable = false;
  int count = 0;        // devices the driver reports
  std::string name;     // of device 0, when usable
  std::string why_not;  // when not usable
};

const CudaDevice& cuda_device();

}  // namespace trickle::gpu
