#pragma once

// Element types a Tensor can hold: exactly the ones DLPack consumers (torch, numpy) agree on and
// the media layer produces. Anything else is rejected at the DLPack boundary.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace trickle::tensor {

enum class DType : std::uint8_t { uint8, int16, int32, int64, float16, float32, float64 };

// Bytes per element.
std::size_t dtype_size(DType dtype);

// "uint8", "float32", ... (the names torch and numpy use, so messages read the same everywhere).
std::string_view dtype_name(DType dtype);

// C++20 has no half-precision type; this stands in for one so float16 tensors still get a typed
// data_as<Float16>() instead of an unchecked cast.
struct Float16 {
  std::uint16_t bits;
};

// The DType whose elements are T; only declared for the types that have one, so a wrong
// data_as<T>() fails to compile where it can and throws at run time where it cannot.
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<std::uint8_t> {
  static constexpr DType value = DType::uint8;
};
template <>
struct DTypeOf<std::int16_t> {
  static constexpr DType value = DType::int16;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::int32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType value = DType::int64;
};
template <>
struct DTypeOf<Float16> {
  static constexpr DType value = DType::float16;
};
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::float32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::float64;
};

template <typename T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace trickle::tensor

// Also in trickle::, the names a worker's author writes (docs/architecture.md, "Namespaces").
namespace trickle {
using tensor::DType;
}  // namespace trickle
