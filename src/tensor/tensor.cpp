#include <trickle/tensor/tensor.hpp>

#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "aligned_memory.hpp"

namespace trickle::tensor {

namespace {

std::string shape_text(const Tensor::Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// Product of the sizes, refusing negative sizes and products that do not fit, since either would
// size an allocation or a copy wrongly.
std::int64_t checked_numel(const Tensor::Shape& shape, const char* who) {
  std::int64_t numel = 1;
  for (std::int64_t size : shape) {
    if (size < 0) {
      throw std::invalid_argument(std::string(who) + ": negative size in shape " + shape_text(shape));
    }
    if (__builtin_mul_overflow(numel, size, &numel)) {
      throw std::invalid_argument(std::string(who) + ": shape " + shape_text(shape) + " has too many elements");
    }
  }
  return numel;
}

std::size_t checked_nbytes(const Tensor::Shape& shape, DType dtype, const char* who) {
  std::int64_t numel = checked_numel(shape, who);
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::size_t>(numel), dtype_size(dtype), &bytes)) {
    throw std::invalid_argument(std::string(who) + ": shape " + shape_text(shape) + " is too large");
  }
  return bytes;
}

// Maps d (negative counts from the end) into [0, rank).
std::int64_t wrap_dim(std::int64_t d, std::int64_t rank, const char* who) {
  if (d < -rank || d >= rank) {
    throw std::out_of_range(std::string(who) + ": dimension " + std::to_string(d) + " out of range for a tensor of " +
                            std::to_string(rank) + " dimensions");
  }
  return d < 0 ? d + rank : d;
}

// Copies every element of a strided CPU tensor into contiguous `destination`. The innermost
// dimension is copied as one run when it is dense, which is the common case (a transposed or
// cropped frame still has dense rows more often than not).
void copy_strided(const Tensor& source, std::byte* destination) {
  const std::size_t element = dtype_size(source.dtype());
  const auto& shape = source.shape();
  const auto& strides = source.strides();
  const auto* base = static_cast<const std::byte*>(source.data());
  const std::int64_t rank = source.dim();
  if (rank == 0) {
    std::memcpy(destination, base, element);
    return;
  }
  const std::int64_t inner_size = shape[rank - 1];
  const std::int64_t inner_stride = strides[rank - 1];
  const std::int64_t outer_count = source.numel() / inner_size;
  std::vector<std::int64_t> index(static_cast<std::size_t>(rank - 1), 0);
  std::int64_t offset = 0;  // in elements, of index's first inner element
  for (std::int64_t outer = 0; outer < outer_count; ++outer) {
    const std::byte* row = base + offset * static_cast<std::int64_t>(element);
    if (inner_stride == 1) {
      std::memcpy(destination, row, static_cast<std::size_t>(inner_size) * element);
      destination += static_cast<std::size_t>(inner_size) * element;
    } else {
      for (std::int64_t i = 0; i < inner_size; ++i) {
        std::memcpy(destination, row + i * inner_stride * static_cast<std::int64_t>(element), element);
        destination += element;
      }
    }
    // Odometer step over the outer dimensions.
    for (std::int64_t d = rank - 2; d >= 0; --d) {
      auto& i = index[static_cast<std::size_t>(d)];
      ++i;
      offset += strides[d];
      if (i < shape[d]) break;
      offset -= i * strides[d];
      i = 0;
    }
  }
}

}  // namespace

Tensor::Shape contiguous_strides(const Tensor::Shape& shape) {
  Tensor::Shape strides(shape.size());
  std::int64_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    // Size-0 dimensions must not zero the outer strides (torch keeps them >= 1 too).
    stride *= shape[i] > 1 ? shape[i] : 1;
  }
  return strides;
}

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  if (device.kind != DeviceKind::cpu) {
    throw std::runtime_error(
        "Tensor::empty: CUDA is not built in; only CPU tensors can be "
        "allocated here (wrap CUDA memory with from_blob or from_dlpack)");
  }
  const std::size_t bytes = checked_nbytes(shape, dtype, "Tensor::empty");
  std::shared_ptr<void> storage(detail::allocate_aligned(bytes), detail::AlignedFree{});
  void* data = storage.get();
  Shape strides = contiguous_strides(shape);
  return from_storage(std::move(storage), data, std::move(shape), std::move(strides), dtype, device);
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor tensor = empty(std::move(shape), dtype);
  std::memset(tensor.data(), 0, tensor.nbytes());
  return tensor;
}

Tensor Tensor::from_blob(void* data, Shape shape, Shape strides, DType dtype, Device device,
                         std::function<void()> release) {
  // Owned from here on, so that a throw below still releases the memory exactly once.
  std::shared_ptr<void> storage(data, [release = std::move(release)](void*) {
    if (release) release();
  });
  return from_storage(std::move(storage), data, std::move(shape), std::move(strides), dtype, device);
}

Tensor Tensor::from_storage(std::shared_ptr<void> storage, void* data, Shape shape, Shape strides, DType dtype,
                            Device device) {
  if (storage.use_count() == 0) {
    throw std::invalid_argument("Tensor::from_storage: no storage owner given");
  }
  const std::int64_t numel = checked_numel(shape, "Tensor::from_blob");
  (void)dtype_size(dtype);  // rejects a DType made from a bad integer
  if (data == nullptr && numel != 0) {
    throw std::invalid_argument("Tensor::from_blob: null data for a tensor of shape " + shape_text(shape));
  }
  if (strides.empty() && !shape.empty()) {
    strides = contiguous_strides(shape);
  } else if (strides.size() != shape.size()) {
    throw std::invalid_argument("Tensor::from_blob: " + std::to_string(strides.size()) + " strides for shape " +
                                shape_text(shape));
  }
  Tensor tensor;
  tensor.storage_ = std::move(storage);
  tensor.data_ = data;
  tensor.shape_ = std::move(shape);
  tensor.strides_ = std::move(strides);
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  return tensor;
}

std::int64_t Tensor::size(std::int64_t d) const {
  return shape_[static_cast<std::size_t>(wrap_dim(d, dim(), "Tensor::size"))];
}

std::int64_t Tensor::stride(std::int64_t d) const {
  return strides_[static_cast<std::size_t>(wrap_dim(d, dim(), "Tensor::stride"))];
}

std::int64_t Tensor::numel() const {
  if (!defined()) return 0;
  std::int64_t numel = 1;
  for (std::int64_t size : shape_) numel *= size;  // validated not to overflow on construction
  return numel;
}

std::size_t Tensor::nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (std::size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 0) return true;  // no elements, nothing to be out of place
    if (shape_[i] == 1) continue;     // never stepped over, so its stride does not matter
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

Tensor Tensor::squeeze(std::int64_t d) const {
  require_defined("Tensor::squeeze");
  const auto i = static_cast<std::size_t>(wrap_dim(d, dim(), "Tensor::squeeze"));
  if (shape_[i] != 1) {
    throw std::invalid_argument("Tensor::squeeze: dimension " + std::to_string(d) + " has size " +
                                std::to_string(shape_[i]) + ", not 1");
  }
  Tensor view = *this;
  view.shape_.erase(view.shape_.begin() + static_cast<std::ptrdiff_t>(i));
  view.strides_.erase(view.strides_.begin() + static_cast<std::ptrdiff_t>(i));
  return view;
}

Tensor Tensor::unsqueeze(std::int64_t d) const {
  require_defined("Tensor::unsqueeze");
  const auto i = static_cast<std::size_t>(wrap_dim(d, dim() + 1, "Tensor::unsqueeze"));
  // The stride torch picks, so that an unsqueezed contiguous tensor stays contiguous and the
  // strides match what torch.from_dlpack users would see from torch itself.
  const std::int64_t stride = i < shape_.size() ? shape_[i] * strides_[i] : 1;
  Tensor view = *this;
  view.shape_.insert(view.shape_.begin() + static_cast<std::ptrdiff_t>(i), 1);
  view.strides_.insert(view.strides_.begin() + static_cast<std::ptrdiff_t>(i), stride);
  return view;
}

Tensor Tensor::contiguous() const {
  require_defined("Tensor::contiguous");
  if (is_contiguous()) return *this;
  if (device_.kind != DeviceKind::cpu) {
    throw std::runtime_error(
        "Tensor::contiguous: CUDA is not built in; cannot copy a strided "
        "CUDA tensor");
  }
  Tensor copy = empty(shape_, dtype_);
  if (copy.numel() != 0) copy_strided(*this, static_cast<std::byte*>(copy.data()));
  return copy;
}

void Tensor::throw_dtype_mismatch(DType requested) const {
  throw std::invalid_argument("Tensor::data_as: tensor holds " + std::string(dtype_name(dtype_)) + ", not " +
                              std::string(dtype_name(requested)));
}

void Tensor::require_defined(const char* operation) const {
  if (!defined()) throw std::logic_error(std::string(operation) + " on an undefined tensor");
}

}  // namespace trickle::tensor
