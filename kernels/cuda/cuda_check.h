// Errors inside libionet-kernels-cuda.so: C++ exceptions naming the failing CUDA call, turned
// into status codes and a per-thread message at the C ABI (exports.cc) and nowhere else.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace ionet::kernels::cuda {

class CudaError : public std::runtime_error {
 public:
  CudaError(const std::string& message, int status)
      : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

[[noreturn]] inline void throwCudaError(const char* call, cudaError_t e) {
  throw CudaError(
      std::string(call) + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")",
      static_cast<int>(e));
}

// Frees on scope exit, whatever state the context is in (errors of cudaFree are moot then).
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t count) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, count * sizeof(T));
    if (e != cudaSuccess) throwCudaError("cudaMalloc", e);
    data_ = static_cast<T*>(p);
  }
  ~DeviceArray() {
    if (data_ != nullptr) cudaFree(data_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return data_; }

 private:
  T* data_ = nullptr;
};

}  // namespace ionet::kernels::cuda

#define IONET_CUDA_CHECK(call)                                           \
  do {                                                                   \
    cudaError_t ionet_cuda_status_ = (call);                             \
    if (ionet_cuda_status_ != cudaSuccess) {                             \
      ::ionet::kernels::cuda::throwCudaError(#call, ionet_cuda_status_); \
    }                                                                    \
  } while (0)
