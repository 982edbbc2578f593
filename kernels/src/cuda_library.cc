// The dlopen loader of libionet-kernels-cuda.so (see cuda_library.h).
#include "cuda_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "ionet/kernels/device.h"
#include "ionet/log.h"

#ifndef IONET_KERNELS_HAVE_CUDA
#define IONET_KERNELS_HAVE_CUDA 0
#endif
#ifndef IONET_KERNELS_BIN_TO_LIBDIR
#define IONET_KERNELS_BIN_TO_LIBDIR "../lib"
#endif

namespace ionet::kernels::detail {
namespace fs = std::filesystem;

namespace {

constexpr const char* kLibraryName = "libionet-kernels-cuda.so";

std::string dlerrorText() {
  const char* e = ::dlerror();
  return e ? e : "unknown dlopen error";
}

fs::path programDirectory() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

}  // namespace

std::vector<std::string> cudaLibraryCandidates() {
  if (const char* path = std::getenv("IONET_KERNELS_CUDA_LIB"); path != nullptr && *path) {
    return {path};
  }
  std::vector<std::string> candidates;
  const fs::path dir = programDirectory();
  if (!dir.empty()) {
    // build/bin, build/tests and build/bench all sit beside build/lib; an installation may use
    // a multiarch lib directory, which CMake computed for us.
    for (const fs::path& rel : {fs::path("../lib"), fs::path(IONET_KERNELS_BIN_TO_LIBDIR)}) {
      std::string p = (dir / rel / kLibraryName).lexically_normal().string();
      if (candidates.empty() || candidates.back() != p) candidates.push_back(p);
    }
  }
  candidates.push_back(kLibraryName);
  return candidates;
}

CudaLibrary loadCudaLibrary(const std::vector<std::string>& candidates) {
  CudaLibrary lib;
  if (!IONET_KERNELS_HAVE_CUDA && std::getenv("IONET_KERNELS_CUDA_LIB") == nullptr) {
    lib.reason =
        "this ionet was built without CUDA kernels (no nvcc at build time, or IONET_WITH_CUDA=OFF)";
    return lib;
  }
  void* handle = nullptr;
  std::string errors;
  for (const std::string& c : candidates) {
    // A path that does not exist says nothing useful; keep dlopen's own message otherwise.
    if (c.find('/') != std::string::npos && !fs::exists(c)) continue;
    handle = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      lib.path = c;
      break;
    }
    errors += (errors.empty() ? "" : "; ") + dlerrorText();
  }
  if (handle == nullptr) {
    lib.reason = std::string("cannot load ") + kLibraryName + " (" +
                 (errors.empty() ? "not found beside the program or on the library path" : errors) +
                 ")";
    return lib;
  }
  auto entry = reinterpret_cast<IonetKernelsApiFn>(::dlsym(handle, IONET_KERNELS_API_SYMBOL));
  if (entry == nullptr) {
    lib.reason = lib.path + ": " + dlerrorText();
    return lib;
  }
  const IonetKernelsApi* api = entry();
  if (api->abiVersion != IONET_KERNELS_ABI_VERSION || api->healthSize != sizeof(IonetGpuHealth)) {
    lib.reason = lib.path + " is from another ionet build (ABI " + std::to_string(api->abiVersion) +
                 ", expected " + std::to_string(IONET_KERNELS_ABI_VERSION) + ")";
    return lib;
  }
  lib.api = api;
  // The CUDA runtime would load the driver itself; asking first gives the clearer reason.
  if (::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL) == nullptr) {
    lib.reason = "NVIDIA driver not installed (" + dlerrorText() + ")";
    return lib;
  }
  int count = 0;
  if (api->deviceCount(&count) != 0) {
    lib.reason = api->lastError();
    return lib;
  }
  lib.deviceCount = count;
  if (count == 0) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    lib.reason = visible
                     ? std::string("no CUDA device visible (CUDA_VISIBLE_DEVICES=") + visible + ")"
                     : "no CUDA device found";
  }
  log::debug("loaded ", lib.path, ": ", count, " CUDA device(s)");
  return lib;
}

const CudaLibrary& cudaLibrary() {
  static const CudaLibrary lib = loadCudaLibrary(cudaLibraryCandidates());
  return lib;
}

const IonetKernelsApi& cudaApi() {
  const CudaLibrary& lib = cudaLibrary();
  if (lib.deviceCount == 0) throw gpu::NoGpu("no GPU: " + lib.reason);
  return *lib.api;
}

void checkStatus(int status, const char* what) {
  if (status != 0) throw Error(std::string(what) + ": " + cudaApi().lastError());
}

}  // namespace ionet::kernels::detail
