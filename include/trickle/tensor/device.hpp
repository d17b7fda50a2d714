#pragma once

// Where a Tensor's memory lives. Only the kinds DLPack maps one to one (kDLCPU, kDLCUDA); pinned
// host memory and managed memory are deliberately absent until something needs them.

#include <cstdint>

namespace trickle::tensor {

enum class DeviceKind : std::uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return Device{DeviceKind::cpu, 0}; }
  static Device cuda(int index = 0) { return Device{DeviceKind::cuda, index}; }

  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool is_cuda() const { return kind == DeviceKind::cuda; }

  bool operator==(const Device&) const = default;
};

}  // namespace trickle::tensor

// Also in trickle::, the names a worker's author writes (docs/architecture.md, "Namespaces").
namespace trickle {
using tensor::Device;
}  // namespace trickle
