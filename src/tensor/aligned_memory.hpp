#pragma once

// Private to src/tensor: the one way this library allocates element memory, so Tensor::empty and
// TensorPool hand out buffers with the same alignment and free them the same way.

#include <cstddef>
#include <new>

namespace trickle::tensor::detail {

// 64 bytes: a cache line, and enough for AVX-512 loads and for libav's own alignment needs.
inline constexpr std::size_t tensor_alignment = 64;

// Never returns null; a zero-byte request still gets a distinct, freeable block, so even an
// empty tensor has a non-null data pointer (DLPack consumers dislike null).
inline void* allocate_aligned(std::size_t bytes) {
  return ::operator new(bytes == 0 ? 1 : bytes, std::align_val_t{tensor_alignment});
}

inline void free_aligned(void* pointer) noexcept { ::operator delete(pointer, std::align_val_t{tensor_alignment}); }

struct AlignedFree {
  void operator()(void* pointer) const noexcept { free_aligned(pointer); }
};

}  // namespace trickle::tensor::detail
