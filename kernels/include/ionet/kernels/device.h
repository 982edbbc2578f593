// Access to this host's GPUs without linking the CUDA runtime: the first call loads
// libionet-kernels-cuda.so (and through it the NVIDIA driver); hosts without either keep working.
#pragma once

#include <cstddef>
#include <string>

#include "ionet/error.h"

namespace ionet::kernels::gpu {

// Thrown by every gpu:: call when no GPU can be used; what() is the reason.
class NoGpu : public Error {
 public:
  using Error::Error;
};

struct Availability {
  int deviceCount = 0;
  std::string reason;  // why deviceCount is 0, e.g. "NVIDIA driver not installed (...)"
  explicit operator bool() const { return deviceCount > 0; }
};

// Loads the CUDA library once and counts the devices. Never throws.
Availability availability();

void setDevice(int device);

enum class CopyDirection { kHostToDevice, kDeviceToHost, kDeviceToDevice };
// Synchronous with respect to the host, like cudaMemcpy.
void copy(void* dst, const void* src, std::size_t bytes, CopyDirection direction);
void synchronize(void* stream = nullptr);

// Device memory of the current device, freed on destruction.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  std::size_t size() const { return size_; }

  void upload(const void* src, std::size_t bytes);  // to the start of the buffer
  void download(void* dst, std::size_t bytes) const;

 private:
  void release();
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ionet::kernels::gpu
