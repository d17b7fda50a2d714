#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <trickle/tensor/dlpack.hpp>

using namespace trickle;
using Shape = tensor::Tensor::Shape;

namespace {

// A DLManagedTensor as a foreign producer (torch, numpy) would hand over: it owns its arrays and
// counts its deleter calls, so tests can tell "freed exactly once" from "leaked" or "freed twice".
struct ForeignTensor {
  DLManagedTensor managed{};
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;
  int* deletions = nullptr;

  static DLManagedTensor* make(void* data, std::vector<std::int64_t> shape, std::vector<std::int64_t> strides,
                               DLDataType dtype, DLDevice device, std::uint64_t byte_offset, int* deletions) {
    auto* foreign = new ForeignTensor;
    foreign->shape = std::move(shape);
    foreign->strides = std::move(strides);
    foreign->deletions = deletions;
    DLTensor& dl = foreign->managed.dl_tensor;
    dl.data = data;
    dl.device = device;
    dl.ndim = static_cast<int>(foreign->shape.size());
    dl.dtype = dtype;
    dl.shape = foreign->shape.data();
    dl.strides = foreign->strides.empty() ? nullptr : foreign->strides.data();
    dl.byte_offset = byte_offset;
    foreign->managed.manager_ctx = foreign;
    foreign->managed.deleter = [](DLManagedTensor* self) {
      auto* owner = static_cast<ForeignTensor*>(self->manager_ctx);
      ++*owner->deletions;
      delete owner;
    };
    return &foreign->managed;
  }
};

constexpr DLDevice cpu_device{kDLCPU, 0};

}  // namespace

BOOST_AUTO_TEST_SUITE(dlpack)

BOOST_AUTO_TEST_CASE(export_describes_the_tensor_with_explicit_strides) {
  tensor::Tensor t = tensor::Tensor::empty({1, 4, 5, 3}, tensor::DType::float32);
  DLManagedTensor* managed = tensor::to_dlpack(t);
  const DLTensor& dl = managed->dl_tensor;
  BOOST_TEST(dl.data == t.data());
  BOOST_TEST(dl.byte_offset == 0u);
  BOOST_TEST(dl.device.device_type == kDLCPU);
  BOOST_TEST(dl.device.device_id == 0);
  BOOST_TEST(dl.ndim == 4);
  BOOST_TEST(dl.dtype.code == kDLFloat);
  BOOST_TEST(dl.dtype.bits == 32);
  BOOST_TEST(dl.dtype.lanes == 1);
  BOOST_TEST(Shape(dl.shape, dl.shape + 4) == (Shape{1, 4, 5, 3}), boost::test_tools::per_element());
  BOOST_REQUIRE(dl.strides != nullptr);
  BOOST_TEST(Shape(dl.strides, dl.strides + 4) == (Shape{60, 15, 3, 1}), boost::test_tools::per_element());
  BOOST_TEST(t.use_count() == 2);  // the export holds a share
  managed->deleter(managed);
  BOOST_TEST(t.use_count() == 1);
}

BOOST_AUTO_TEST_CASE(export_maps_every_dtype_and_cuda) {
  const struct {
    tensor::DType dtype;
    std::uint8_t code;
    std::uint8_t bits;
  } cases[] = {{tensor::DType::uint8, kDLUInt, 8},     {tensor::DType::int16, kDLInt, 16},
               {tensor::DType::int32, kDLInt, 32},     {tensor::DType::int64, kDLInt, 64},
               {tensor::DType::float16, kDLFloat, 16}, {tensor::DType::float32, kDLFloat, 32},
               {tensor::DType::float64, kDLFloat, 64}};
  for (const auto& c : cases) {
    tensor::Tensor t = tensor::Tensor::zeros({2}, c.dtype);
    DLManagedTensor* managed = tensor::to_dlpack(t);
    BOOST_TEST(managed->dl_tensor.dtype.code == c.code);
    BOOST_TEST(managed->dl_tensor.dtype.bits == c.bits);
    BOOST_TEST(managed->dl_tensor.dtype.lanes == 1);
    tensor::Tensor back = tensor::from_dlpack(managed);
    BOOST_TEST((back.dtype() == c.dtype));
  }
  auto* fake = reinterpret_cast<void*>(std::uintptr_t{0x2000});
  tensor::Tensor cuda = tensor::Tensor::from_blob(fake, {2}, {}, tensor::DType::uint8, tensor::Device::cuda(3), {});
  DLManagedTensor* managed = tensor::to_dlpack(cuda);
  BOOST_TEST(managed->dl_tensor.device.device_type == kDLCUDA);
  BOOST_TEST(managed->dl_tensor.device.device_id == 3);
  tensor::Tensor back = tensor::from_dlpack(managed);
  BOOST_TEST((back.device() == tensor::Device::cuda(3)));
  BOOST_CHECK_THROW(tensor::to_dlpack(tensor::Tensor()), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(round_trip_is_zero_copy_and_frees_once_after_both_owners) {
  std::vector<std::int16_t> memory(24);
  int releases = 0;
  // A strided (transposed) view, so the strides must survive the trip as they are.
  tensor::Tensor original = tensor::Tensor::from_blob(memory.data(), {4, 6}, {1, 4}, tensor::DType::int16,
                                                      tensor::Device::cpu(), [&] { ++releases; });
  DLManagedTensor* managed = tensor::to_dlpack(original);
  original = tensor::Tensor();
  BOOST_TEST(releases == 0);  // the manager alone keeps it alive

  tensor::Tensor imported = tensor::from_dlpack(managed);
  BOOST_TEST(imported.data() == static_cast<void*>(memory.data()));
  BOOST_TEST(imported.shape() == (Shape{4, 6}), boost::test_tools::per_element());
  BOOST_TEST(imported.strides() == (Shape{1, 4}), boost::test_tools::per_element());
  BOOST_TEST((imported.dtype() == tensor::DType::int16));
  BOOST_TEST((imported.device() == tensor::Device::cpu()));

  tensor::Tensor view = imported.unsqueeze(0);
  imported = tensor::Tensor();
  BOOST_TEST(releases == 0);
  view = tensor::Tensor();
  BOOST_TEST(releases == 1);
}

BOOST_AUTO_TEST_CASE(manager_outliving_the_tensor_keeps_storage) {
  int releases = 0;
  std::vector<float> memory(4, 1.5f);
  DLManagedTensor* managed = nullptr;
  {
    tensor::Tensor t = tensor::Tensor::from_blob(memory.data(), {4}, {}, tensor::DType::float32, tensor::Device::cpu(),
                                                 [&] { ++releases; });
    managed = tensor::to_dlpack(t);
  }
  BOOST_TEST(releases == 0);
  BOOST_TEST(static_cast<float*>(managed->dl_tensor.data)[3] == 1.5f);
  managed->deleter(managed);
  BOOST_TEST(releases == 1);
}

BOOST_AUTO_TEST_CASE(zero_dim_round_trip) {
  tensor::Tensor scalar = tensor::Tensor::zeros({}, tensor::DType::float64);
  *scalar.data_as<double>() = 2.5;
  tensor::Tensor back = tensor::from_dlpack(tensor::to_dlpack(scalar));
  BOOST_TEST(back.dim() == 0);
  BOOST_TEST(back.numel() == 1);
  BOOST_TEST(*back.data_as<double>() == 2.5);
  BOOST_TEST(back.data() == scalar.data());
}

BOOST_AUTO_TEST_CASE(import_applies_byte_offset_and_null_strides) {
  std::vector<std::uint8_t> memory(16 + 2 * 3 * 4);
  for (std::size_t i = 0; i < memory.size(); ++i) memory[i] = static_cast<std::uint8_t>(i);
  int deletions = 0;
  {
    DLManagedTensor* managed =
        ForeignTensor::make(memory.data(), {2, 3, 4}, {}, DLDataType{kDLUInt, 8, 1}, cpu_device, 16, &deletions);
    tensor::Tensor t = tensor::from_dlpack(managed);
    BOOST_TEST(t.data() == static_cast<void*>(memory.data() + 16));
    BOOST_TEST(t.shape() == (Shape{2, 3, 4}), boost::test_tools::per_element());
    BOOST_TEST(t.strides() == (Shape{12, 4, 1}), boost::test_tools::per_element());
    BOOST_TEST(t.is_contiguous());
    BOOST_TEST(t.data_as<std::uint8_t>()[0] == 16);
    tensor::Tensor squeezed = t.unsqueeze(0).squeeze(0);
    t = tensor::Tensor();
    BOOST_TEST(deletions == 0);
  }
  BOOST_TEST(deletions == 1);
}

BOOST_AUTO_TEST_CASE(import_keeps_explicit_strides_and_cuda) {
  int deletions = 0;
  auto* fake = reinterpret_cast<void*>(std::uintptr_t{0x4000});
  {
    tensor::Tensor t = tensor::from_dlpack(
        ForeignTensor::make(fake, {3, 2}, {1, 3}, DLDataType{kDLFloat, 16, 1}, DLDevice{kDLCUDA, 1}, 0, &deletions));
    BOOST_TEST((t.device() == tensor::Device::cuda(1)));
    BOOST_TEST((t.dtype() == tensor::DType::float16));
    BOOST_TEST(t.strides() == (Shape{1, 3}), boost::test_tools::per_element());
    BOOST_TEST(!t.is_contiguous());
  }
  BOOST_TEST(deletions == 1);
}

BOOST_AUTO_TEST_CASE(unsupported_imports_are_rejected_and_still_deleted) {
  std::vector<std::uint8_t> memory(64);
  const struct {
    DLDataType dtype;
    DLDevice device;
    const char* expected;  // part of the message
  } cases[] = {
      {DLDataType{kDLBfloat, 16, 1}, cpu_device, "bfloat16"},
      {DLDataType{kDLComplex, 64, 1}, cpu_device, "complex64"},
      {DLDataType{6, 8, 1}, cpu_device, "bool"},  // kDLBool in DLPack >= 0.8
      {DLDataType{kDLFloat, 32, 4}, cpu_device, "lanes"},
      {DLDataType{kDLUInt, 16, 1}, cpu_device, "uint16"},
      {DLDataType{kDLInt, 8, 1}, cpu_device, "int8"},
      {DLDataType{kDLOpaqueHandle, 64, 1}, cpu_device, "opaque"},
      {DLDataType{kDLFloat, 32, 1}, DLDevice{kDLCUDAHost, 0}, "kDLCUDAHost"},
      {DLDataType{kDLFloat, 32, 1}, DLDevice{kDLCUDAManaged, 0}, "kDLCUDAManaged"},
      {DLDataType{kDLFloat, 32, 1}, DLDevice{kDLROCM, 0}, "kDLROCM"},
  };
  for (const auto& c : cases) {
    int deletions = 0;
    DLManagedTensor* managed = ForeignTensor::make(memory.data(), {4}, {}, c.dtype, c.device, 0, &deletions);
    try {
      (void)tensor::from_dlpack(managed);
      BOOST_ERROR("accepted " << c.expected);
    } catch (const std::invalid_argument& error) {
      BOOST_TEST_INFO("message: " << error.what());
      BOOST_TEST(std::string(error.what()).find(c.expected) != std::string::npos);
    }
    BOOST_TEST(deletions == 1);
  }
}

BOOST_AUTO_TEST_CASE(malformed_imports_are_rejected_and_still_deleted) {
  int deletions = 0;
  // Null data for a non-empty tensor.
  BOOST_CHECK_THROW(
      tensor::from_dlpack(ForeignTensor::make(nullptr, {4}, {}, DLDataType{kDLUInt, 8, 1}, cpu_device, 0, &deletions)),
      std::invalid_argument);
  BOOST_TEST(deletions == 1);
  // Negative size.
  std::uint8_t byte = 0;
  BOOST_CHECK_THROW(
      tensor::from_dlpack(ForeignTensor::make(&byte, {-1}, {}, DLDataType{kDLUInt, 8, 1}, cpu_device, 0, &deletions)),
      std::invalid_argument);
  BOOST_TEST(deletions == 2);
  BOOST_CHECK_THROW(tensor::from_dlpack(nullptr), std::invalid_argument);
  // A manager without a deleter is legal DLPack: imported, and nothing is called.
  DLManagedTensor bare{};
  bare.dl_tensor.data = &byte;
  bare.dl_tensor.device = cpu_device;
  bare.dl_tensor.dtype = DLDataType{kDLUInt, 8, 1};
  tensor::Tensor scalar = tensor::from_dlpack(&bare);
  BOOST_TEST(scalar.dim() == 0);
  BOOST_TEST(scalar.data() == static_cast<void*>(&byte));
}

BOOST_AUTO_TEST_SUITE_END()
