#include <trickle/tensor/dtype.hpp>

#include <stdexcept>
#include <string>

namespace trickle::tensor {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::uint8: return 1;
    case DType::int16: return 2;
    case DType::int32: return 4;
    case DType::int64: return 8;
    case DType::float16: return 2;
    case DType::float32: return 4;
    case DType::float64: return 8;
  }
  // Only reachable through a cast from a bad integer; fail loudly rather than size memory by it.
  throw std::invalid_argument("dtype_size: invalid DType " + std::to_string(static_cast<int>(dtype)));
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::uint8: return "uint8";
    case DType::int16: return "int16";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::float16: return "float16";
    case DType::float32: return "float32";
    case DType::float64: return "float64";
  }
  return "invalid";
}

}  // namespace trickle::tensor
