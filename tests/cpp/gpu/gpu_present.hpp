#pragma once

// Boost.Test precondition for the cases that need a GPU: skipped, with the reason, elsewhere.

#include <boost/test/unit_test.hpp>

#include "trickle/gpu/cuda_device.hpp"

namespace trickle::gpu {

struct GpuPresent {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    const CudaDevice& device = cuda_device();
    boost::test_tools::assertion_result result(device.usable);
    result.message() << (device.usable ? "CUDA device " + device.name : "skipped, needs a GPU: " + device.why_not);
    return result;
  }
};

}  // namespace trickle::gpu
