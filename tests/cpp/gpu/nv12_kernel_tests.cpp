// The CUDA kernels against their CPU reference, pixel for pixel (exact for uint8 and for float,
// whose values are k / 255 on both sides). Run where a GPU is present; elsewhere each case is
// skipped, and the log says why (no CUDA compiler at build time, no driver, no device).

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_present.hpp"
#include "nv12_pictures.hpp"
#include "trickle/gpu/cuda_device.hpp"
#include "trickle/gpu/nv12_reference.hpp"

#if defined(TRICKLE_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include "trickle/gpu/nv12_kernels.hpp"
#endif

namespace trickle::gpu {
namespace {

BOOST_AUTO_TEST_CASE(cuda_availability_is_reported) {
  const CudaDevice& device = cuda_device();
  BOOST_TEST_MESSAGE("CUDA: " << (device.usable ? device.name : device.why_not));
  // Either usable with a device, or a reason to put in the fallback log line.
  BOOST_TEST((device.usable ? device.count > 0 : !device.why_not.empty()));
  BOOST_TEST(&cuda_device() == &device);  // asked once
}

#if defined(TRICKLE_HAVE_CUDA)

void check(cudaError_t error) { BOOST_REQUIRE_MESSAGE(error == cudaSuccess, cudaGetErrorString(error)); }

// Device memory for the duration of a test.
struct DeviceBuffer {
  void* pointer = nullptr;
  explicit DeviceBuffer(std::size_t bytes) { check(cudaMalloc(&pointer, bytes)); }
  ~DeviceBuffer() { cudaFree(pointer); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(pointer);
  }
};

struct DeviceNv12 {
  DeviceBuffer y;
  DeviceBuffer uv;
  test::HostNv12 shape;
  explicit DeviceNv12(const test::HostNv12& host) : y(host.y.size()), uv(host.uv.size()), shape(host) {
    check(cudaMemcpy(y.pointer, host.y.data(), host.y.size(), cudaMemcpyHostToDevice));
    check(cudaMemcpy(uv.pointer, host.uv.data(), host.uv.size(), cudaMemcpyHostToDevice));
  }
  Nv12View view() const {
    return Nv12View{y.as<std::uint8_t>(), uv.as<std::uint8_t>(), shape.y_pitch,
                    shape.uv_pitch,       shape.width,           shape.height};
  }
  Nv12Image image() const {
    return Nv12Image{y.as<std::uint8_t>(), uv.as<std::uint8_t>(), shape.y_pitch,
                     shape.uv_pitch,       shape.width,           shape.height};
  }
  test::HostNv12 download() const {
    test::HostNv12 host = shape;
    check(cudaMemcpy(host.y.data(), y.pointer, host.y.size(), cudaMemcpyDeviceToHost));
    check(cudaMemcpy(host.uv.data(), uv.pointer, host.uv.size(), cudaMemcpyDeviceToHost));
    return host;
  }
};

BOOST_AUTO_TEST_CASE(nv12_to_rgb_kernel_equals_the_reference, *boost::unit_test::precondition(GpuPresent{})) {
  for (const auto& [w, h, tw, th] : std::vector<std::array<int, 4>>{
           {1280, 720, 512, 512}, {720, 1280, 512, 512}, {641, 479, 300, 200}, {320, 240, 640, 360}}) {
    const test::HostNv12 picture = test::gradient_nv12(w, h);
    const DeviceNv12 device(picture);
    for (PixelType type : {PixelType::uint8, PixelType::float32}) {
      const std::size_t element = type == PixelType::uint8 ? 1 : 4;
      const std::size_t bytes = static_cast<std::size_t>(tw) * th * 3 * element;
      std::vector<std::uint8_t> expected(bytes), actual(bytes);
      nv12_to_rgb_reference(picture.view(), test::rgb_view(expected.data(), type, tw, th), YuvColour{});
      DeviceBuffer target(bytes);
      // A non-default stream, as the engine uses.
      cudaStream_t stream = nullptr;
      check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      const KernelError error =
          nv12_to_rgb(device.view(), test::rgb_view(target.pointer, type, tw, th), YuvColour{}, stream);
      BOOST_REQUIRE_MESSAGE(error.empty(), error);
      check(cudaStreamSynchronize(stream));
      check(cudaStreamDestroy(stream));
      check(cudaMemcpy(actual.data(), target.pointer, bytes, cudaMemcpyDeviceToHost));
      BOOST_TEST((actual == expected),
                 w << "x" << h << " -> " << tw << "x" << th << (type == PixelType::uint8 ? " uint8" : " float32"));
    }
  }
}

BOOST_AUTO_TEST_CASE(rgb_to_nv12_kernel_equals_the_reference, *boost::unit_test::precondition(GpuPresent{})) {
  for (const auto& [w, h] : std::vector<std::array<int, 2>>{{512, 512}, {640, 360}, {66, 38}}) {
    auto rgb = test::gradient_rgb(w, h);
    std::vector<float> as_float(rgb.size());
    for (std::size_t i = 0; i < rgb.size(); ++i) as_float[i] = static_cast<float>(rgb[i]) / 255.0f;
    test::HostNv12 expected = test::blank_nv12(w, h);
    rgb_to_nv12_reference(test::rgb_view(rgb.data(), PixelType::uint8, w, h), expected.image(), ColourMatrix::bt601);
    for (PixelType type : {PixelType::uint8, PixelType::float32}) {
      const void* host =
          type == PixelType::uint8 ? static_cast<const void*>(rgb.data()) : static_cast<const void*>(as_float.data());
      const std::size_t bytes = rgb.size() * (type == PixelType::uint8 ? 1 : 4);
      DeviceBuffer source(bytes);
      check(cudaMemcpy(source.pointer, host, bytes, cudaMemcpyHostToDevice));
      const DeviceNv12 target(test::blank_nv12(w, h));
      const KernelError error =
          rgb_to_nv12(test::rgb_view(source.pointer, type, w, h), target.image(), ColourMatrix::bt601, nullptr);
      BOOST_REQUIRE_MESSAGE(error.empty(), error);
      check(cudaDeviceSynchronize());
      const test::HostNv12 actual = target.download();
      BOOST_TEST((actual.y == expected.y));
      BOOST_TEST((actual.uv == expected.uv));
    }
  }
}

#else

BOOST_AUTO_TEST_CASE(kernels_need_a_cuda_build, *boost::unit_test::precondition(GpuPresent{})) {
  BOOST_FAIL("unreachable: without CUDA the precondition never holds");
}

#endif

}  // namespace
}  // namespace trickle::gpu
