// Launchers of the compression kernels (compression.cu); they throw CudaError on a bad argument
// or a failed launch. Formats are IONET_HALF_BF16 / IONET_HALF_FP16 of cuda_abi.h.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

namespace ionet::kernels::cuda {

void floatToHalf(int format, const float* in, uint16_t* out, size_t n, cudaStream_t stream);
void halfToFloat(int format, const uint16_t* in, float* out, size_t n, cudaStream_t stream);
void quantizeInt8(const float* in, size_t n, size_t blockSize, int8_t* q, float* scales,
                  cudaStream_t stream);
void dequantizeInt8(const int8_t* q, const float* scales, size_t n, size_t blockSize, float* out,
                    bool accumulate, cudaStream_t stream);

}  // namespace ionet::kernels::cuda
