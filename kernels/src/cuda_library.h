// Finding and loading libionet-kernels-cuda.so with dlopen: the only way ionet reaches the CUDA
// runtime and the NVIDIA driver, so that hosts without them run everything else.
#pragma once

#include <string>
#include <vector>

#include "cuda_abi.h"

namespace ionet::kernels::detail {

struct CudaLibrary {
  const IonetKernelsApi* api = nullptr;  // set when the library loaded and its ABI matches
  int deviceCount = 0;
  std::string reason;  // why deviceCount is 0
  std::string path;    // the file that was loaded
};

// Where to look, in order: $IONET_KERNELS_CUDA_LIB alone when it is set; otherwise the lib
// directory beside the running program's bin directory (build tree and installation), then the
// dynamic linker's search path.
std::vector<std::string> cudaLibraryCandidates();

// Loads the first candidate that opens, checks its ABI and the driver, counts the devices.
// Never throws: every failure is a reason.
CudaLibrary loadCudaLibrary(const std::vector<std::string>& candidates);

// This process's library, loaded on the first call.
const CudaLibrary& cudaLibrary();

// The function table; throws gpu::NoGpu with the reason when no GPU can be used.
const IonetKernelsApi& cudaApi();

// Throws ionet::Error("what: <the library's message>") for a non-zero status.
void checkStatus(int status, const char* what);

}  // namespace ionet::kernels::detail
