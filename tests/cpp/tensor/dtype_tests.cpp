#include <boost/test/unit_test.hpp>

#include <trickle/tensor/device.hpp>
#include <trickle/tensor/dtype.hpp>

using namespace trickle;

BOOST_AUTO_TEST_SUITE(dtype)

BOOST_AUTO_TEST_CASE(sizes_and_names) {
  BOOST_TEST(tensor::dtype_size(tensor::DType::uint8) == 1u);
  BOOST_TEST(tensor::dtype_size(tensor::DType::int16) == 2u);
  BOOST_TEST(tensor::dtype_size(tensor::DType::int32) == 4u);
  BOOST_TEST(tensor::dtype_size(tensor::DType::int64) == 8u);
  BOOST_TEST(tensor::dtype_size(tensor::DType::float16) == 2u);
  BOOST_TEST(tensor::dtype_size(tensor::DType::float32) == 4u);
  BOOST_TEST(tensor::dtype_size(tensor::DType::float64) == 8u);
  BOOST_TEST(tensor::dtype_name(tensor::DType::uint8) == "uint8");
  BOOST_TEST(tensor::dtype_name(tensor::DType::int16) == "int16");
  BOOST_TEST(tensor::dtype_name(tensor::DType::int32) == "int32");
  BOOST_TEST(tensor::dtype_name(tensor::DType::int64) == "int64");
  BOOST_TEST(tensor::dtype_name(tensor::DType::float16) == "float16");
  BOOST_TEST(tensor::dtype_name(tensor::DType::float32) == "float32");
  BOOST_TEST(tensor::dtype_name(tensor::DType::float64) == "float64");
}

BOOST_AUTO_TEST_CASE(element_types_map_to_dtypes) {
  static_assert(tensor::dtype_of<std::uint8_t> == tensor::DType::uint8);
  static_assert(tensor::dtype_of<float> == tensor::DType::float32);
  static_assert(tensor::dtype_of<tensor::Float16> == tensor::DType::float16);
  static_assert(sizeof(tensor::Float16) == 2);
  BOOST_TEST(tensor::dtype_size(tensor::dtype_of<double>) == sizeof(double));
  BOOST_TEST(tensor::dtype_size(tensor::dtype_of<std::int64_t>) == sizeof(std::int64_t));
}

BOOST_AUTO_TEST_CASE(devices_compare_by_kind_and_index) {
  BOOST_TEST((tensor::Device{} == tensor::Device::cpu()));
  BOOST_TEST((tensor::Device::cuda() == tensor::Device{tensor::DeviceKind::cuda, 0}));
  BOOST_TEST(!(tensor::Device::cuda(1) == tensor::Device::cuda(0)));
  BOOST_TEST(!(tensor::Device::cuda(0) == tensor::Device::cpu()));
  BOOST_TEST(tensor::Device::cuda(2).index == 2);
  BOOST_TEST(tensor::Device::cpu().is_cpu());
  BOOST_TEST(tensor::Device::cuda().is_cuda());
}

BOOST_AUTO_TEST_SUITE_END()
