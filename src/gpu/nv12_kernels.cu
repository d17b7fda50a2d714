// nvcc compiles this file: it includes no Asio, fmt or spdlog (see nv12_kernels.hpp).
#include "trickle/gpu/nv12_kernels.hpp"

#include <cuda_runtime.h>

#include "trickle/gpu/yuv_pixel_math.hpp"

namespace trickle::gpu {

namespace {

__global__ void nv12_to_rgb_kernel(Nv12View source, RgbView target, media::CoverCrop geometry, YuvColour colour) {
  const int column = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (column >= target.width || row >= target.height) {
    return;
  }
  const Rgb8 pixel = cover_pixel(source, geometry, column, row, colour);
  store_level(target, row, column, 0, pixel.r);
  store_level(target, row, column, 1, pixel.g);
  store_level(target, row, column, 2, pixel.b);
}

__global__ void rgb_to_nv12_kernel(RgbView source, Nv12Image target, ColourMatrix matrix) {
  const int block_column = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int block_row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (block_column >= (target.width + 1) / 2 || block_row >= (target.height + 1) / 2) {
    return;
  }
  nv12_block(source, target, block_column, block_row, matrix);
}

dim3 grid_for(int width, int height, dim3 block) {
  return dim3((static_cast<unsigned>(width) + block.x - 1) / block.x,
              (static_cast<unsigned>(height) + block.y - 1) / block.y);
}

KernelError launched(const char* what) {
  const cudaError_t error = cudaGetLastError();
  if (error == cudaSuccess) {
    return {};
  }
  return std::string(what) + ": " + cudaGetErrorString(error);
}

}  // namespace

KernelError nv12_to_rgb(const Nv12View& source, const RgbView& target, YuvColour colour, void* stream) {
  if (source.width <= 0 || source.height <= 0 || target.width <= 0 || target.height <= 0) {
    return "nv12_to_rgb: empty picture";
  }
  const media::CoverCrop geometry = media::cover_crop(source.width, source.height, target.width, target.height);
  const dim3 block(32, 8);
  nv12_to_rgb_kernel<<<grid_for(target.width, target.height, block), block, 0, static_cast<cudaStream_t>(stream)>>>(
      source, target, geometry, colour);
  return launched("nv12_to_rgb");
}

KernelError rgb_to_nv12(const RgbView& source, const Nv12Image& target, ColourMatrix matrix, void* stream) {
  if (source.width <= 0 || source.height <= 0 || target.width <= 0 || target.height <= 0) {
    return "rgb_to_nv12: empty picture";
  }
  const dim3 block(32, 8);
  rgb_to_nv12_kernel<<<grid_for((target.width + 1) / 2, (target.height + 1) / 2, block), block, 0,
                       static_cast<cudaStream_t>(stream)>>>(source, target, matrix);
  return launched("rgb_to_nv12");
}

}  // namespace trickle::gpu
