// gpu:: device access (device.h) over the loaded library's function table.
#include "ionet/kernels/device.h"

#include <utility>

#include "cuda_library.h"

namespace ionet::kernels::gpu {

Availability availability() {
  const detail::CudaLibrary& lib = detail::cudaLibrary();
  return {lib.deviceCount, lib.reason};
}

void setDevice(int device) {
  detail::checkStatus(detail::cudaApi().setDevice(device), "setDevice");
}

void copy(void* dst, const void* src, std::size_t bytes, CopyDirection direction) {
  const int d = direction == CopyDirection::kHostToDevice   ? IONET_COPY_HOST_TO_DEVICE
                : direction == CopyDirection::kDeviceToHost ? IONET_COPY_DEVICE_TO_HOST
                                                            : IONET_COPY_DEVICE_TO_DEVICE;
  detail::checkStatus(detail::cudaApi().copy(dst, src, bytes, d), "copy");
}

void synchronize(void* stream) {
  detail::checkStatus(detail::cudaApi().synchronize(stream), "synchronize");
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : size_(bytes) {
  detail::checkStatus(detail::cudaApi().malloc(&data_, bytes),
                      ("allocating " + std::to_string(bytes) + " bytes of device memory").c_str());
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void DeviceBuffer::release() {
  // A failing free (a faulted context) leaves nothing to do: the context is lost anyway.
  if (data_ != nullptr) detail::cudaApi().free(data_);
  data_ = nullptr;
  size_ = 0;
}

void DeviceBuffer::upload(const void* src, std::size_t bytes) {
  IONET_ENFORCE(bytes <= size_, "upload of ", bytes, " bytes into a device buffer of ", size_);
  copy(data_, src, bytes, CopyDirection::kHostToDevice);
}

void DeviceBuffer::download(void* dst, std::size_t bytes) const {
  IONET_ENFORCE(bytes <= size_, "download of ", bytes, " bytes from a device buffer of ", size_);
  copy(dst, data_, bytes, CopyDirection::kDeviceToHost);
}

}  // namespace ionet::kernels::gpu
