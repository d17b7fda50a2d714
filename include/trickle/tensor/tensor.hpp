#pragma once

// The engine's frame memory: shape, strides, dtype, device and a shared owner of the storage.
// Views (squeeze, unsqueeze, copies of the Tensor) share the storage, so a decoded frame can be
// handed to Python and C++ processors without a copy; the memory goes when the last view does.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <trickle/tensor/device.hpp>
#include <trickle/tensor/dtype.hpp>

namespace trickle::tensor {

class Tensor {
 public:
  using Shape = std::vector<std::int64_t>;

  // Undefined: no storage, no shape; defined() is false and numel() is 0.
  Tensor() = default;

  // Contiguous (row-major), 64-byte aligned, uninitialised. CPU only: a CUDA device throws
  // std::runtime_error because this build has no CUDA allocator.
  static Tensor empty(Shape shape, DType dtype, Device device = Device::cpu());

  // Contiguous CPU tensor filled with zero bytes (0 for every dtype, +0.0 for floats).
  static Tensor zeros(Shape shape, DType dtype);

  // Wraps foreign memory without copying. `strides` are in elements (empty: contiguous).
  // Ownership is taken on entry: `release` (may be empty) runs exactly once, when the last Tensor
  // sharing the memory goes away, or before this throws std::invalid_argument for bad arguments,
  // so a caller never has to clean up after a failed call. `release` may run on any thread (the
  // one dropping the last view) and must not throw: it runs inside a destructor.
  static Tensor from_blob(void* data, Shape shape, Shape strides, DType dtype, Device device,
                          std::function<void()> release);

  // Addition: wraps memory already owned by `storage` (whatever its deleter does), `data` being
  // the first element somewhere inside it. Lets owners that already have a shared_ptr (the
  // TensorPool, AVFrame references) skip the extra std::function allocation of from_blob.
  static Tensor from_storage(std::shared_ptr<void> storage, void* data, Shape shape, Shape strides, DType dtype,
                             Device device);

  // use_count, not the pointer: from_blob may own a null pointer (an empty foreign tensor).
  bool defined() const { return storage_.use_count() != 0; }

  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  // Negative d counts from the end; out of range throws std::out_of_range.
  std::int64_t size(std::int64_t d) const;
  // Addition: the same, for strides.
  std::int64_t stride(std::int64_t d) const;

  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  // Product of the shape; 1 for a zero-dim tensor, 0 for an undefined one.
  std::int64_t numel() const;
  // numel() * dtype_size(dtype()): the bytes of the elements, not of the (strided) span.
  std::size_t nbytes() const;

  // Row-major with no gaps; dimensions of size 1 may have any stride (as in torch).
  bool is_contiguous() const;

  void* data() const { return data_; }

  // The first element as T*; throws std::invalid_argument when T is not the tensor's dtype.
  template <typename T>
  T* data_as() const {
    using Element = std::remove_cv_t<T>;
    if (dtype_of<Element> != dtype_) throw_dtype_mismatch(dtype_of<Element>);
    return static_cast<T*>(data_);
  }

  // A view without dimension d, which must have size 1 (std::invalid_argument otherwise).
  Tensor squeeze(std::int64_t d) const;
  // A view with a new dimension of size 1 at d (d in [-dim()-1, dim()]).
  Tensor unsqueeze(std::int64_t d) const;
  // Itself when contiguous, else a contiguous copy (CPU only; a CUDA copy throws runtime_error).
  Tensor contiguous() const;

  // Owners of the storage (Tensors, DLPack exports, ...); 0 when undefined. For tests.
  long use_count() const { return storage_.use_count(); }

  // Addition: the shared owner of the storage, for code that must keep it alive on its own
  // terms (a DLPack export, an encoder holding a frame).
  const std::shared_ptr<void>& storage() const { return storage_; }

 private:
  [[noreturn]] void throw_dtype_mismatch(DType requested) const;
  void require_defined(const char* operation) const;

  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::uint8;
  Device device_;
};

// Addition: contiguous (row-major) strides, in elements, for `shape`.
Tensor::Shape contiguous_strides(const Tensor::Shape& shape);

}  // namespace trickle::tensor

// Also in trickle::, the names a worker's author writes (docs/architecture.md, "Namespaces").
namespace trickle {
using tensor::Tensor;
}  // namespace trickle
