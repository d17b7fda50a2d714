// GPU frames end to end on a real clip: NVDEC through FFmpeg's CUDA hwaccel, our kernel into
// pooled CUDA tensors, and back to the host for the encoder. Needs a GPU; skipped elsewhere with
// the reason (see nv12_kernel_tests.cpp).

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "gpu_present.hpp"
#include "media/media_test_support.hpp"
#include "trickle/media/stream_decoder.hpp"

#if defined(TRICKLE_HAVE_CUDA)
#include <cuda_runtime_api.h>

extern "C" {
#include <libavutil/hwcontext.h>
}

#include "trickle/gpu/cuda_frame_converter.hpp"
#include "trickle/gpu/cuda_tensors.hpp"
#include "trickle/gpu/nv12_reference.hpp"
#endif

namespace trickle::gpu {
namespace {

#if defined(TRICKLE_HAVE_CUDA)

// Each NVDEC picture: the kernel's tensor, and the reference computed from the same surface
// copied to the host, must agree exactly; every frame comes out, as many as the CPU decoder's.
BOOST_AUTO_TEST_CASE(nvdec_pictures_become_cuda_tensors_equal_to_the_reference,
                     *boost::unit_test::precondition(GpuPresent{})) {
  for (tensor::DType dtype : {tensor::DType::uint8, tensor::DType::float32}) {
    media::StreamDecoderOptions options;
    options.video = media::VideoTensorFormat{256, 256, dtype, true};
    options.max_framerate = [] { return 1000; };
    options.drain_at_end = true;
    options.cuda_decode = true;
    CudaFrameConverter converter(options.video, 0);
    std::size_t compared = 0, mismatched = 0;
    media::AvFramePtr host = media::make_av_frame();
    options.gpu_picture = [&](const AVFrame& frame) -> tl::expected<tensor::Tensor, media::MediaError> {
      auto tensor = converter.convert(frame);
      if (!tensor) return tensor;
      av_frame_unref(host.get());
      BOOST_REQUIRE(av_hwframe_transfer_data(host.get(), &frame, 0) >= 0);
      const std::size_t element = dtype == tensor::DType::uint8 ? 1 : 4;
      std::vector<std::uint8_t> expected(256 * 256 * 3 * element);
      RgbView target{expected.data(),
                     dtype == tensor::DType::uint8 ? PixelType::uint8 : PixelType::float32,
                     256,
                     256,
                     3,
                     256 * 3,
                     3,
                     1};
      nv12_to_rgb_reference(
          Nv12View{host->data[0], host->data[1], host->linesize[0], host->linesize[1], host->width, host->height},
          target, YuvColour{});
      auto on_host = copy_to_host(*tensor);
      BOOST_REQUIRE(on_host.has_value());
      ++compared;
      if (std::memcmp(on_host->data(), expected.data(), expected.size()) != 0) ++mismatched;
      return tensor;
    };
    std::size_t delivered = 0;
    media::StreamDecoderCallbacks callbacks;
    callbacks.on_video = [&](media::DecodedVideoFrame frame) {
      BOOST_TEST(frame.tensor.device().is_cuda());
      BOOST_TEST((frame.tensor.shape() == tensor::Tensor::Shape{1, 256, 256, 3}));
      ++delivered;
    };
    media::StreamDecoder decoder(options, callbacks);
    BOOST_REQUIRE(decoder.run(test::clips().video_audio.string()).has_value());
    BOOST_TEST(decoder.stats().video_decoded_on_gpu);
    BOOST_TEST(delivered == 150u);
    BOOST_TEST(compared == 150u);
    BOOST_TEST(mismatched == 0u);
  }
}

BOOST_AUTO_TEST_CASE(cuda_buffers_are_reused_and_copied_back_exactly, *boost::unit_test::precondition(GpuPresent{})) {
  CudaBufferPool pool(2);
  void* first = nullptr;
  {
    auto tensor = pool.acquire({4, 5, 3}, tensor::DType::uint8, 0);
    BOOST_REQUIRE(tensor.has_value());
    first = tensor->data();
    std::vector<std::uint8_t> values(60);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::uint8_t>(i * 3);
    BOOST_REQUIRE(cudaMemcpy(tensor->data(), values.data(), 60, cudaMemcpyHostToDevice) == cudaSuccess);
    auto host = copy_to_host(*tensor);
    BOOST_REQUIRE(host.has_value());
    BOOST_TEST(host->device().is_cpu());
    BOOST_TEST((host->shape() == tensor::Tensor::Shape{4, 5, 3}));
    BOOST_TEST(std::memcmp(host->data(), values.data(), 60) == 0);
  }
  auto again = pool.acquire({4, 5, 3}, tensor::DType::uint8, 0);
  BOOST_REQUIRE(again.has_value());
  BOOST_TEST(again->data() == first);  // the released buffer, not a new allocation
}

#else

BOOST_AUTO_TEST_CASE(gpu_frames_need_a_cuda_build, *boost::unit_test::precondition(GpuPresent{})) {
  BOOST_FAIL("unreachable: without CUDA the precondition never holds");
}

#endif

}  // namespace
}  // namespace trickle::gpu
