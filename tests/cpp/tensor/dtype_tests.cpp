#include <boost/test/unit_test.hpp>

#include <trickle/tensor/device.hpp>
#include <trickle/tensor/dtype.hpp>

using namespace trickle;

BOOST_AUTO_TEST_SUITE(dtype)

BOOST_AUTO_TEST_CASE(sizes_and_names) {
  BOOST_TEST(dtype_size(DType::uint8) == 1u);
  BOOST_TEST(dtype_size(DType::int16) == 2u);
  BOOST_TEST(dtype_size(DType::int32) == 4u);
  BOOST_TEST(dtype_size(DType::int64) == 8u);
  BOOST_TEST(dtype_size(DType::float16) == 2u);
  BOOST_TEST(dtype_size(DType::float32) == 4u);
  BOOST_TEST(dtype_size(DType::float64) == 8u);
  BOOST_TEST(dtype_name(DType::uint8) == "uint8");
  BOOST_TEST(dtype_name(DType::int16) == "int16");
  BOOST_TEST(dtype_name(DType::int32) == "int32");
  BOOST_TEST(dtype_name(DType::int64) == "int64");
  BOOST_TEST(dtype_name(DType::float16) == "float16");
  BOOST_TEST(dtype_name(DType::float32) == "float32");
  BOOST_TEST(dtype_name(DType::float64) == "float64");
}

BOOST_AUTO_TEST_CASE(element_types_map_to_dtypes) {
  static_assert(dtype_of<std::uint8_t> == DType::uint8);
  static_assert(dtype_of<float> == DType::float32);
  static_assert(dtype_of<Float16> == DType::float16);
  static_assert(sizeof(Float16) == 2);
  BOOST_TEST(dtype_size(dtype_of<double>) == sizeof(double));
  BOOST_TEST(dtype_size(dtype_of<std::int64_t>) == sizeof(std::int64_t));
}

BOOST_AUTO_TEST_CASE(devices_compare_by_kind_and_index) {
  BOOST_TEST((Device{} == Device::cpu()));
  BOOST_TEST((Device::cuda() == Device{DeviceKind::cuda, 0}));
  BOOST_TEST(!(Device::cuda(1) == Device::cuda(0)));
  BOOST_TEST(!(Device::cuda(0) == Device::cpu()));
  BOOST_TEST(Device::cuda(2).index == 2);
  BOOST_TEST(Device::cpu().is_cpu());
  BOOST_TEST(Device::cuda().is_cuda());
}

BOOST_AUTO_TEST_SUITE_END()
