#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <trickle/tensor/tensor.hpp>

using namespace trickle;
using Shape = tensor::Tensor::Shape;

BOOST_AUTO_TEST_SUITE(tensors)  // not `tensor`: that would be a namespace beside trickle::tensor

BOOST_AUTO_TEST_CASE(default_tensor_is_undefined) {
  tensor::Tensor t;
  BOOST_TEST(!t.defined());
  BOOST_TEST(t.numel() == 0);
  BOOST_TEST(t.nbytes() == 0u);
  BOOST_TEST(t.data() == nullptr);
  BOOST_TEST(t.use_count() == 0);
  BOOST_CHECK_THROW(t.squeeze(0), std::logic_error);
  BOOST_CHECK_THROW(t.unsqueeze(0), std::logic_error);
  BOOST_CHECK_THROW(t.contiguous(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(empty_is_contiguous_aligned_and_sized) {
  tensor::Tensor t = tensor::Tensor::empty({1, 4, 5, 3}, tensor::DType::float32);
  BOOST_TEST(t.defined());
  BOOST_TEST(t.shape() == (Shape{1, 4, 5, 3}), boost::test_tools::per_element());
  BOOST_TEST(t.strides() == (Shape{60, 15, 3, 1}), boost::test_tools::per_element());
  BOOST_TEST(t.dim() == 4);
  BOOST_TEST(t.numel() == 60);
  BOOST_TEST(t.nbytes() == 240u);
  BOOST_TEST((t.dtype() == tensor::DType::float32));
  BOOST_TEST((t.device() == tensor::Device::cpu()));
  BOOST_TEST(t.is_contiguous());
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0u);
  BOOST_TEST(t.use_count() == 1);
  // Writable over its whole extent (ASan would flag an undersized allocation).
  float* values = t.data_as<float>();
  for (int i = 0; i < 60; ++i) values[i] = static_cast<float>(i);
  BOOST_TEST(values[59] == 59.0f);
}

BOOST_AUTO_TEST_CASE(empty_rejects_cuda_and_bad_shapes) {
  try {
    (void)tensor::Tensor::empty({2, 2}, tensor::DType::uint8, tensor::Device::cuda());
    BOOST_FAIL("expected a throw");
  } catch (const std::runtime_error& error) {
    BOOST_TEST(std::string(error.what()).find("CUDA is not built in") != std::string::npos);
  }
  BOOST_CHECK_THROW(tensor::Tensor::empty({2, -1}, tensor::DType::uint8), std::invalid_argument);
  BOOST_CHECK_THROW(tensor::Tensor::empty({INT64_MAX, 4}, tensor::DType::uint8), std::invalid_argument);
  BOOST_CHECK_THROW(tensor::Tensor::empty({INT64_MAX / 2}, tensor::DType::float64), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(zeros_are_zero) {
  tensor::Tensor t = tensor::Tensor::zeros({3, 7}, tensor::DType::int32);
  BOOST_TEST(t.numel() == 21);
  BOOST_TEST(t.nbytes() == 84u);
  const std::int32_t* values = t.data_as<std::int32_t>();
  for (int i = 0; i < 21; ++i) BOOST_TEST(values[i] == 0);
  tensor::Tensor d = tensor::Tensor::zeros({5}, tensor::DType::float64);
  BOOST_TEST(d.data_as<double>()[4] == 0.0);
}

BOOST_AUTO_TEST_CASE(zero_dim_and_zero_size_tensors) {
  tensor::Tensor scalar = tensor::Tensor::zeros({}, tensor::DType::int64);
  BOOST_TEST(scalar.dim() == 0);
  BOOST_TEST(scalar.numel() == 1);
  BOOST_TEST(scalar.nbytes() == 8u);
  BOOST_TEST(scalar.strides().empty());
  BOOST_TEST(scalar.is_contiguous());
  BOOST_TEST(*scalar.data_as<std::int64_t>() == 0);

  tensor::Tensor none = tensor::Tensor::empty({0, 3}, tensor::DType::uint8);
  BOOST_TEST(none.numel() == 0);
  BOOST_TEST(none.nbytes() == 0u);
  BOOST_TEST(none.data() != nullptr);
  BOOST_TEST(none.is_contiguous());
  BOOST_TEST(none.contiguous().data() == none.data());
}

BOOST_AUTO_TEST_CASE(negative_dimensions_count_from_the_end) {
  tensor::Tensor t = tensor::Tensor::empty({2, 3, 4}, tensor::DType::uint8);
  BOOST_TEST(t.size(0) == 2);
  BOOST_TEST(t.size(-1) == 4);
  BOOST_TEST(t.size(-3) == 2);
  BOOST_TEST(t.stride(-1) == 1);
  BOOST_TEST(t.stride(-3) == 12);
  BOOST_CHECK_THROW(t.size(3), std::out_of_range);
  BOOST_CHECK_THROW(t.size(-4), std::out_of_range);
  BOOST_CHECK_THROW(tensor::Tensor::zeros({}, tensor::DType::uint8).size(0), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(data_as_checks_the_dtype) {
  tensor::Tensor t = tensor::Tensor::empty({4}, tensor::DType::uint8);
  BOOST_TEST(t.data_as<std::uint8_t>() == t.data());
  BOOST_TEST(t.data_as<const std::uint8_t>() == t.data());
  BOOST_CHECK_THROW(t.data_as<float>(), std::invalid_argument);
  BOOST_CHECK_THROW(t.data_as<std::int16_t>(), std::invalid_argument);
  tensor::Tensor h = tensor::Tensor::empty({4}, tensor::DType::float16);
  BOOST_TEST(h.data_as<tensor::Float16>() == h.data());
  BOOST_CHECK_THROW(h.data_as<float>(), std::invalid_argument);
  try {
    (void)t.data_as<double>();
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    BOOST_TEST(message.find("uint8") != std::string::npos);
    BOOST_TEST(message.find("float64") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(squeeze_and_unsqueeze_are_views) {
  tensor::Tensor t = tensor::Tensor::empty({1, 4, 5, 3}, tensor::DType::uint8);
  tensor::Tensor s = t.squeeze(0);
  BOOST_TEST(s.shape() == (Shape{4, 5, 3}), boost::test_tools::per_element());
  BOOST_TEST(s.strides() == (Shape{15, 3, 1}), boost::test_tools::per_element());
  BOOST_TEST(s.data() == t.data());
  BOOST_TEST(t.use_count() == 2);
  BOOST_TEST(s.is_contiguous());

  tensor::Tensor u = s.unsqueeze(0);
  BOOST_TEST(u.shape() == (Shape{1, 4, 5, 3}), boost::test_tools::per_element());
  BOOST_TEST(u.strides() == (Shape{60, 15, 3, 1}), boost::test_tools::per_element());
  BOOST_TEST(u.data() == t.data());
  BOOST_TEST(t.use_count() == 3);

  tensor::Tensor last = s.unsqueeze(-1);  // after the last dimension
  BOOST_TEST(last.shape() == (Shape{4, 5, 3, 1}), boost::test_tools::per_element());
  BOOST_TEST(last.strides() == (Shape{15, 3, 1, 1}), boost::test_tools::per_element());
  BOOST_TEST(last.squeeze(-1).shape() == s.shape(), boost::test_tools::per_element());

  tensor::Tensor middle = s.unsqueeze(1);
  BOOST_TEST(middle.shape() == (Shape{4, 1, 5, 3}), boost::test_tools::per_element());
  BOOST_TEST(middle.is_contiguous());

  // Writes through a view are seen through the original.
  s.data_as<std::uint8_t>()[7] = 42;
  BOOST_TEST(t.data_as<std::uint8_t>()[7] == 42);

  BOOST_CHECK_THROW(t.squeeze(1), std::invalid_argument);
  BOOST_CHECK_THROW(t.squeeze(4), std::out_of_range);
  BOOST_CHECK_THROW(t.unsqueeze(5), std::out_of_range);
  BOOST_CHECK_THROW(t.unsqueeze(-6), std::out_of_range);
  BOOST_TEST(t.unsqueeze(4).dim() == 5);
  BOOST_TEST(t.unsqueeze(-5).size(0) == 1);

  tensor::Tensor scalar = tensor::Tensor::zeros({}, tensor::DType::float32);
  BOOST_TEST(scalar.unsqueeze(0).shape() == (Shape{1}), boost::test_tools::per_element());
  BOOST_TEST(scalar.unsqueeze(0).squeeze(0).dim() == 0);
}

BOOST_AUTO_TEST_CASE(from_blob_release_runs_once_after_all_views) {
  std::vector<float> memory(6);
  int releases = 0;
  {
    tensor::Tensor t = tensor::Tensor::from_blob(memory.data(), {2, 3}, {}, tensor::DType::float32,
                                                 tensor::Device::cpu(), [&] { ++releases; });
    BOOST_TEST(t.strides() == (Shape{3, 1}), boost::test_tools::per_element());
    BOOST_TEST(t.data() == memory.data());
    tensor::Tensor view = t.unsqueeze(0);
    {
      tensor::Tensor copy = view;  // NOLINT: a second owner on purpose
      t = tensor::Tensor();
      BOOST_TEST(releases == 0);
      BOOST_TEST(copy.use_count() == 2);
    }
    BOOST_TEST(releases == 0);
    BOOST_TEST(view.use_count() == 1);
  }
  BOOST_TEST(releases == 1);
}

BOOST_AUTO_TEST_CASE(from_blob_accepts_cuda_and_empty_release) {
  // Foreign CUDA memory is never dereferenced here, so any address will do.
  auto* fake = reinterpret_cast<void*>(std::uintptr_t{0x1000});
  int releases = 0;
  {
    tensor::Tensor t =
        tensor::Tensor::from_blob(fake, {2}, {}, tensor::DType::uint8, tensor::Device::cuda(1), [&] { ++releases; });
    BOOST_TEST((t.device() == tensor::Device::cuda(1)));
    BOOST_TEST(t.data() == fake);
  }
  BOOST_TEST(releases == 1);
  std::uint8_t byte = 0;
  tensor::Tensor no_release =
      tensor::Tensor::from_blob(&byte, {1}, {}, tensor::DType::uint8, tensor::Device::cpu(), {});
  BOOST_TEST(no_release.defined());
  // An empty foreign tensor may have a null pointer and is still defined.
  tensor::Tensor null_empty =
      tensor::Tensor::from_blob(nullptr, {0}, {}, tensor::DType::uint8, tensor::Device::cpu(), {});
  BOOST_TEST(null_empty.defined());
  BOOST_TEST(null_empty.numel() == 0);
}

BOOST_AUTO_TEST_CASE(from_blob_failure_still_releases) {
  std::vector<float> memory(6);
  int releases = 0;
  BOOST_CHECK_THROW(tensor::Tensor::from_blob(memory.data(), {2, 3}, {1}, tensor::DType::float32, tensor::Device::cpu(),
                                              [&] { ++releases; }),
                    std::invalid_argument);
  BOOST_TEST(releases == 1);
  BOOST_CHECK_THROW(
      tensor::Tensor::from_blob(nullptr, {2}, {}, tensor::DType::float32, tensor::Device::cpu(), [&] { ++releases; }),
      std::invalid_argument);
  BOOST_TEST(releases == 2);
  BOOST_CHECK_THROW(tensor::Tensor::from_blob(memory.data(), {-2}, {}, tensor::DType::float32, tensor::Device::cpu(),
                                              [&] { ++releases; }),
                    std::invalid_argument);
  BOOST_TEST(releases == 3);
}

BOOST_AUTO_TEST_CASE(contiguous_copies_a_transposed_view) {
  // A 2x3 row-major matrix seen as its 3x2 transpose.
  std::vector<std::int32_t> memory{0, 1, 2, 10, 11, 12};
  int releases = 0;
  tensor::Tensor transposed = tensor::Tensor::from_blob(memory.data(), {3, 2}, {1, 3}, tensor::DType::int32,
                                                        tensor::Device::cpu(), [&] { ++releases; });
  BOOST_TEST(!transposed.is_contiguous());
  tensor::Tensor copy = transposed.contiguous();
  BOOST_TEST(copy.data() != transposed.data());
  BOOST_TEST(copy.is_contiguous());
  BOOST_TEST(copy.shape() == (Shape{3, 2}), boost::test_tools::per_element());
  BOOST_TEST(copy.strides() == (Shape{2, 1}), boost::test_tools::per_element());
  std::vector<std::int32_t> got(copy.data_as<std::int32_t>(), copy.data_as<std::int32_t>() + 6);
  BOOST_TEST(got == (std::vector<std::int32_t>{0, 10, 1, 11, 2, 12}), boost::test_tools::per_element());
  BOOST_TEST(copy.use_count() == 1);  // its own storage
  transposed = tensor::Tensor();
  BOOST_TEST(releases == 1);
  BOOST_TEST(copy.data_as<std::int32_t>()[5] == 12);  // the copy outlives the source
}

BOOST_AUTO_TEST_CASE(contiguous_copies_strided_3d_and_returns_self_when_contiguous) {
  // HWC frame 4x5x3 of uint8, cropped to columns 1..3 and permuted to CHW: dense nowhere.
  std::vector<std::uint8_t> frame(4 * 5 * 3);
  std::iota(frame.begin(), frame.end(), 0);
  auto* crop_start = frame.data() + 1 * 3;
  tensor::Tensor chw =
      tensor::Tensor::from_blob(crop_start, {3, 4, 3}, {1, 15, 3}, tensor::DType::uint8, tensor::Device::cpu(), {});
  BOOST_TEST(!chw.is_contiguous());
  tensor::Tensor copy = chw.contiguous();
  const std::uint8_t* out = copy.data_as<std::uint8_t>();
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 3; ++x) {
        BOOST_TEST(out[(c * 4 + y) * 3 + x] == frame[static_cast<std::size_t>(y * 15 + (x + 1) * 3 + c)]);
      }
    }
  }
  // Dense rows (inner stride 1) take the row-copy path.
  tensor::Tensor rows =
      tensor::Tensor::from_blob(frame.data(), {4, 6}, {15, 1}, tensor::DType::uint8, tensor::Device::cpu(), {});
  tensor::Tensor rows_copy = rows.contiguous();
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 6; ++x) {
      BOOST_TEST(rows_copy.data_as<std::uint8_t>()[y * 6 + x] == frame[static_cast<std::size_t>(y * 15 + x)]);
    }
  }

  tensor::Tensor dense = tensor::Tensor::empty({2, 3}, tensor::DType::float32);
  tensor::Tensor same = dense.contiguous();
  BOOST_TEST(same.data() == dense.data());
  BOOST_TEST(dense.use_count() == 2);

  // Size-1 dimensions may carry any stride and still count as contiguous.
  std::vector<float> memory(3);
  tensor::Tensor odd =
      tensor::Tensor::from_blob(memory.data(), {1, 3}, {99, 1}, tensor::DType::float32, tensor::Device::cpu(), {});
  BOOST_TEST(odd.is_contiguous());

  tensor::Tensor cuda_strided =
      tensor::Tensor::from_blob(memory.data(), {3, 1}, {1, 3}, tensor::DType::float32, tensor::Device::cuda(), {});
  BOOST_TEST(cuda_strided.is_contiguous());
  tensor::Tensor cuda_transposed =
      tensor::Tensor::from_blob(memory.data(), {2, 2}, {1, 2}, tensor::DType::uint8, tensor::Device::cuda(), {});
  BOOST_CHECK_THROW(cuda_transposed.contiguous(), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
