#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <trickle/tensor/dlpack.hpp>
#include <trickle/tensor/tensor_pool.hpp>

using namespace trickle;
using Shape = tensor::Tensor::Shape;

BOOST_AUTO_TEST_SUITE(tensor_pool)

BOOST_AUTO_TEST_CASE(acquire_gives_contiguous_aligned_cpu_tensors) {
  tensor::TensorPool pool;
  tensor::Tensor t = pool.acquire({1, 8, 8, 3}, tensor::DType::float32);
  BOOST_TEST(t.shape() == (Shape{1, 8, 8, 3}), boost::test_tools::per_element());
  BOOST_TEST(t.strides() == (Shape{192, 24, 3, 1}), boost::test_tools::per_element());
  BOOST_TEST(t.is_contiguous());
  BOOST_TEST((t.device() == tensor::Device::cpu()));
  BOOST_TEST(t.nbytes() == 768u);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0u);
  t.data_as<float>()[191] = 1.0f;  // the whole extent is usable
  BOOST_TEST(pool.allocations() == 1u);
  BOOST_TEST(pool.idle_count() == 0u);
  BOOST_CHECK_THROW(pool.acquire({-1}, tensor::DType::uint8), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(released_buffer_comes_back) {
  tensor::TensorPool pool;
  void* first = nullptr;
  {
    tensor::Tensor t = pool.acquire({4, 4}, tensor::DType::uint8);
    first = t.data();
    tensor::Tensor view = t.unsqueeze(0);
    t = tensor::Tensor();
    BOOST_TEST(pool.idle_count() == 0u);  // the view still holds it
  }
  BOOST_TEST(pool.idle_count() == 1u);
  // Same byte size, different shape and dtype: still reused.
  tensor::Tensor again = pool.acquire({2, 2}, tensor::DType::float32);
  BOOST_TEST(again.data() == first);
  BOOST_TEST(pool.allocations() == 1u);
  BOOST_TEST(pool.idle_count() == 0u);
  BOOST_TEST(again.shape() == (Shape{2, 2}), boost::test_tools::per_element());
  BOOST_TEST((again.dtype() == tensor::DType::float32));
}

BOOST_AUTO_TEST_CASE(steady_state_allocates_nothing) {
  tensor::TensorPool pool;
  for (int frame = 0; frame < 100; ++frame) {
    tensor::Tensor t = pool.acquire({1, 16, 16, 3}, tensor::DType::uint8);
    t.data_as<std::uint8_t>()[0] = static_cast<std::uint8_t>(frame);
  }
  BOOST_TEST(pool.allocations() == 1u);
  BOOST_TEST(pool.idle_count() == 1u);
}

BOOST_AUTO_TEST_CASE(different_byte_size_allocates) {
  tensor::TensorPool pool;
  { tensor::Tensor t = pool.acquire({16}, tensor::DType::uint8); }
  BOOST_TEST(pool.idle_count() == 1u);
  tensor::Tensor bigger = pool.acquire({17}, tensor::DType::uint8);
  BOOST_TEST(pool.allocations() == 2u);
  BOOST_TEST(pool.idle_count() == 1u);  // the 16-byte one still waits
  tensor::Tensor same = pool.acquire({4}, tensor::DType::int32);
  BOOST_TEST(pool.allocations() == 2u);
  BOOST_TEST(pool.idle_count() == 0u);
}

BOOST_AUTO_TEST_CASE(max_idle_is_respected) {
  tensor::TensorPool pool(2);
  {
    std::vector<tensor::Tensor> live;
    for (int i = 0; i < 5; ++i) live.push_back(pool.acquire({32}, tensor::DType::uint8));
    BOOST_TEST(pool.allocations() == 5u);
  }
  BOOST_TEST(pool.idle_count() == 2u);  // the other three were freed (ASan checks no leak)
  tensor::Tensor a = pool.acquire({32}, tensor::DType::uint8);
  tensor::Tensor b = pool.acquire({32}, tensor::DType::uint8);
  BOOST_TEST(pool.allocations() == 5u);
  tensor::Tensor c = pool.acquire({32}, tensor::DType::uint8);
  BOOST_TEST(pool.allocations() == 6u);

  tensor::TensorPool keeps_none(0);
  { tensor::Tensor t = keeps_none.acquire({8}, tensor::DType::uint8); }
  BOOST_TEST(keeps_none.idle_count() == 0u);
}

BOOST_AUTO_TEST_CASE(release_on_another_thread) {
  tensor::TensorPool pool;
  tensor::Tensor t = pool.acquire({64}, tensor::DType::uint8);
  void* buffer = t.data();
  std::thread consumer([moved = std::move(t)]() mutable { moved = tensor::Tensor(); });
  consumer.join();
  BOOST_TEST(pool.idle_count() == 1u);
  BOOST_TEST(pool.acquire({64}, tensor::DType::uint8).data() == buffer);
}

BOOST_AUTO_TEST_CASE(concurrent_acquire_and_release) {
  tensor::TensorPool pool(4);
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&pool, n] {
      for (int i = 0; i < 500; ++i) {
        tensor::Tensor t = pool.acquire({static_cast<std::int64_t>(64 * (1 + n % 2))}, tensor::DType::uint8);
        t.data_as<std::uint8_t>()[0] = static_cast<std::uint8_t>(i);
        std::thread([held = std::move(t)]() mutable { held = tensor::Tensor(); }).join();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(pool.idle_count() <= 4u);
  BOOST_TEST(pool.allocations() <= 8u);  // at most one live buffer per thread at a time
}

BOOST_AUTO_TEST_CASE(release_after_the_pool_is_gone) {
  tensor::Tensor survivor;
  DLManagedTensor* exported = nullptr;
  {
    tensor::TensorPool pool;
    { tensor::Tensor idle = pool.acquire({128}, tensor::DType::uint8); }
    survivor = pool.acquire({256}, tensor::DType::uint8);
    exported = tensor::to_dlpack(pool.acquire({512}, tensor::DType::uint8));
    BOOST_TEST(pool.idle_count() == 1u);
  }
  // Pool gone: its idle buffer was freed; outstanding ones are still valid memory...
  survivor.data_as<std::uint8_t>()[255] = 7;
  BOOST_TEST(survivor.data_as<std::uint8_t>()[255] == 7);
  // ...and are simply freed when released, here and on another thread (ASan: no leak, no UAF).
  survivor = tensor::Tensor();
  std::thread([exported] { exported->deleter(exported); }).join();
}

BOOST_AUTO_TEST_SUITE_END()
