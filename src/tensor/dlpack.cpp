#include <trickle/tensor/dlpack.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace trickle::tensor {

namespace {

DLDataType to_dl_dtype(DType dtype) {
  const auto bits = static_cast<std::uint8_t>(dtype_size(dtype) * 8);
  switch (dtype) {
    case DType::uint8: return DLDataType{kDLUInt, bits, 1};
    case DType::int16:
    case DType::int32:
    case DType::int64: return DLDataType{kDLInt, bits, 1};
    case DType::float16:
    case DType::float32:
    case DType::float64: return DLDataType{kDLFloat, bits, 1};
  }
  throw std::invalid_argument("to_dlpack: invalid DType");
}

std::optional<DType> from_dl_dtype(DLDataType dtype) {
  if (dtype.lanes != 1) return std::nullopt;
  switch (dtype.code) {
    case kDLUInt:
      if (dtype.bits == 8) return DType::uint8;
      break;
    case kDLInt:
      if (dtype.bits == 16) return DType::int16;
      if (dtype.bits == 32) return DType::int32;
      if (dtype.bits == 64) return DType::int64;
      break;
    case kDLFloat:
      if (dtype.bits == 16) return DType::float16;
      if (dtype.bits == 32) return DType::float32;
      if (dtype.bits == 64) return DType::float64;
      break;
    default: break;
  }
  return std::nullopt;
}

// Names the codes DLPack 0.6 and later define, so a rejection says "bfloat16" rather than "4".
std::string dl_dtype_text(DLDataType dtype) {
  std::string code;
  switch (dtype.code) {
    case kDLInt: code = "int"; break;
    case kDLUInt: code = "uint"; break;
    case kDLFloat: code = "float"; break;
    case kDLOpaqueHandle: code = "opaque_handle"; break;
    case kDLBfloat: code = "bfloat"; break;
    case kDLComplex: code = "complex"; break;
    case 6: code = "bool"; break;  // kDLBool, added after DLPack 0.6
    default: code = "code " + std::to_string(dtype.code) + " "; break;
  }
  std::string text = code + std::to_string(dtype.bits);
  if (dtype.lanes != 1) text += "x" + std::to_string(dtype.lanes) + " (lanes != 1)";
  return text;
}

std::optional<Device> from_dl_device(DLDevice device) {
  switch (device.device_type) {
    case kDLCPU: return Device::cpu();
    case kDLCUDA: return Device::cuda(device.device_id);
    default: return std::nullopt;
  }
}

std::string dl_device_text(DLDevice device) {
  switch (device.device_type) {
    case kDLCPU: return "kDLCPU";
    case kDLCUDA: return "kDLCUDA";
    case kDLCUDAHost: return "kDLCUDAHost";
    case kDLOpenCL: return "kDLOpenCL";
    case kDLVulkan: return "kDLVulkan";
    case kDLMetal: return "kDLMetal";
    case kDLVPI: return "kDLVPI";
    case kDLROCM: return "kDLROCM";
    case kDLROCMHost: return "kDLROCMHost";
    case kDLExtDev: return "kDLExtDev";
    case kDLCUDAManaged: return "kDLCUDAManaged";
  }
  return "device type " + std::to_string(static_cast<int>(device.device_type));
}

// What manager_ctx points to: the DLManagedTensor itself plus the Tensor whose storage share
// keeps the memory alive, and the shape/strides arrays DLTensor points into.
struct ExportedTensor {
  DLManagedTensor managed{};
  Tensor tensor;
  Tensor::Shape shape;
  Tensor::Shape strides;
};

void delete_exported(DLManagedTensor* self) { delete static_cast<ExportedTensor*>(self->manager_ctx); }

struct CallDeleter {
  void operator()(DLManagedTensor* managed) const {
    if (managed->deleter != nullptr) managed->deleter(managed);
  }
};

}  // namespace

DLManagedTensor* to_dlpack(const Tensor& tensor) {
  if (!tensor.defined()) throw std::invalid_argument("to_dlpack: undefined tensor");
  auto exported = std::make_unique<ExportedTensor>();
  exported->tensor = tensor;
  exported->shape = tensor.shape();
  exported->strides = tensor.strides();

  DLTensor& dl = exported->managed.dl_tensor;
  dl.data = tensor.data();
  dl.device.device_type = tensor.device().kind == DeviceKind::cuda ? kDLCUDA : kDLCPU;
  dl.device.device_id = tensor.device().index;
  dl.ndim = static_cast<int>(tensor.dim());
  dl.dtype = to_dl_dtype(tensor.dtype());
  dl.shape = exported->shape.data();
  // Always explicit: consumers differ on how they read NULL, and explicit strides cost nothing.
  dl.strides = exported->strides.data();
  dl.byte_offset = 0;
  exported->managed.manager_ctx = exported.get();
  exported->managed.deleter = &delete_exported;
  return &exported.release()->managed;
}

Tensor from_dlpack(DLManagedTensor* managed) {
  if (managed == nullptr) throw std::invalid_argument("from_dlpack: null DLManagedTensor");
  // Owned from here: every rejection below still runs the producer's deleter exactly once.
  std::unique_ptr<DLManagedTensor, CallDeleter> owner(managed);
  const DLTensor& dl = managed->dl_tensor;

  const std::optional<DType> dtype = from_dl_dtype(dl.dtype);
  if (!dtype) {
    throw std::invalid_argument("from_dlpack: unsupported dtype " + dl_dtype_text(dl.dtype) +
                                "; supported: uint8, int16, int32, int64, float16, float32, "
                                "float64 with lanes == 1");
  }
  const std::optional<Device> device = from_dl_device(dl.device);
  if (!device) {
    throw std::invalid_argument("from_dlpack: unsupported device " + dl_device_text(dl.device) +
                                "; supported: kDLCPU, kDLCUDA");
  }
  if (dl.ndim < 0 || (dl.ndim > 0 && dl.shape == nullptr)) {
    throw std::invalid_argument("from_dlpack: bad ndim " + std::to_string(dl.ndim) + " or missing shape");
  }

  const auto rank = static_cast<std::size_t>(dl.ndim);
  Tensor::Shape shape(dl.shape, dl.shape + rank);
  // NULL strides mean compact row-major; from_blob fills those in from an empty vector.
  Tensor::Shape strides;
  if (dl.strides != nullptr) strides.assign(dl.strides, dl.strides + rank);
  void* data = dl.data == nullptr ? nullptr : static_cast<char*>(dl.data) + dl.byte_offset;

  // Ownership moves to from_blob, which itself releases on failure; the lambda holds one pointer
  // (stored inline), so building the std::function cannot throw between release() and the call.
  std::function<void()> release = [raw = owner.release()] { CallDeleter{}(raw); };
  return Tensor::from_blob(data, std::move(shape), std::move(strides), *dtype, *device, std::move(release));
}

}  // namespace trickle::tensor
