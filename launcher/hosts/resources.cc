// Host resources: cores from the affinity mask, memory from sysinfo, GPUs from NVML.
#include "hosts/resources.h"

#include <dlfcn.h>
#include <sched.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace ionet::launcher {
namespace {

// The few NVML declarations used, as in NVIDIA's nvml.h (nvmlReturn_t is an enum there; 0 is
// NVML_SUCCESS). Declared here so that building needs no CUDA toolkit and running no driver.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr unsigned kNvmlStringBuffer = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE, UUID's is 80

struct Nvml {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  nvmlReturn_t (*getCount)(unsigned*);
  nvmlReturn_t (*getHandle)(unsigned, nvmlDevice_t*);
  nvmlReturn_t (*getName)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*getUuid)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*getMemory)(nvmlDevice_t, nvmlMemory_t*);
  const char* (*errorString)(nvmlReturn_t);

  std::string describe(const char* call, nvmlReturn_t rc) const {
    const char* text = errorString ? errorString(rc) : nullptr;
    return std::string(call) + " failed: " + (text ? text : "error") + " (" + std::to_string(rc) +
           ")";
  }
};

template <typename Fn>
bool bind(void* lib, const char* symbol, Fn& fn, std::string& missing) {
  fn = reinterpret_cast<Fn>(::dlsym(lib, symbol));
  if (!fn && missing.empty()) missing = symbol;
  return fn != nullptr;
}

unsigned affinityCores() {
  // The mask may be wider than cpu_set_t on very large machines: grow until it fits.
  for (int n = CPU_SETSIZE; n <= (1 << 16); n *= 2) {
    cpu_set_t* set = CPU_ALLOC(n);
    const std::size_t size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(size, set);
    const int rc = ::sched_getaffinity(0, size, set);
    const int count = CPU_COUNT_S(size, set);
    CPU_FREE(set);
    if (rc == 0) return static_cast<unsigned>(count);
    if (errno != EINVAL) break;
  }
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1;
}

std::uint64_t totalMemory() {
  struct sysinfo info {};
  if (::sysinfo(&info) == 0 && info.totalram > 0) {
    return std::uint64_t(info.totalram) * (info.mem_unit ? info.mem_unit : 1);
  }
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream words(line);
    std::string key;
    std::uint64_t kib = 0;
    if (words >> key >> kib && key == "MemTotal:") return kib * 1024;
  }
  return 0;
}

}  // namespace

GpuProbe probeGpus(const std::string& library) {
  GpuProbe probe;
  void* lib = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const std::string why = ::dlerror();
    probe.error = why.find("No such file") != std::string::npos
                      ? library + " not found (no NVIDIA driver on this host)"
                      : "cannot load " + library + ": " + why;
    return probe;
  }
  Nvml nvml{};
  // nvmlErrorString only words errors: optional. The others are required.
  nvml.errorString = reinterpret_cast<decltype(nvml.errorString)>(::dlsym(lib, "nvmlErrorString"));
  std::string missing;
  bind(lib, "nvmlInit_v2", nvml.init, missing);
  bind(lib, "nvmlShutdown", nvml.shutdown, missing);
  bind(lib, "nvmlDeviceGetCount_v2", nvml.getCount, missing);
  bind(lib, "nvmlDeviceGetHandleByIndex_v2", nvml.getHandle, missing);
  bind(lib, "nvmlDeviceGetName", nvml.getName, missing);
  bind(lib, "nvmlDeviceGetUUID", nvml.getUuid, missing);
  bind(lib, "nvmlDeviceGetMemoryInfo", nvml.getMemory, missing);
  if (!missing.empty()) {
    probe.error = library + " has no " + missing + " (not NVML, or too old)";
    ::dlclose(lib);
    return probe;
  }
  if (nvmlReturn_t rc = nvml.init(); rc != kNvmlSuccess) {
    probe.error = nvml.describe("nvmlInit_v2", rc);
    ::dlclose(lib);
    return probe;
  }
  unsigned count = 0;
  if (nvmlReturn_t rc = nvml.getCount(&count); rc != kNvmlSuccess) {
    probe.error = nvml.describe("nvmlDeviceGetCount_v2", rc);
  } else if (count == 0) {
    probe.error = "NVML reports no GPU";
  }
  // A device that cannot be read fully is left out (its index stays unused) and named.
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    char name[kNvmlStringBuffer] = {};
    char uuid[kNvmlStringBuffer] = {};
    nvmlMemory_t memory{};
    const char* call = "nvmlDeviceGetHandleByIndex_v2";
    nvmlReturn_t rc = nvml.getHandle(i, &device);
    if (rc == kNvmlSuccess) {
      call = "nvmlDeviceGetName";
      rc = nvml.getName(device, name, sizeof name);
    }
    if (rc == kNvmlSuccess) {
      call = "nvmlDeviceGetUUID";
      rc = nvml.getUuid(device, uuid, sizeof uuid);
    }
    if (rc == kNvmlSuccess) {
      call = "nvmlDeviceGetMemoryInfo";
      rc = nvml.getMemory(device, &memory);
    }
    if (rc != kNvmlSuccess) {
      if (!probe.error.empty()) probe.error += "; ";
      probe.error += "GPU " + std::to_string(i) + ": " + nvml.describe(call, rc);
      continue;
    }
    GpuInfo gpu;
    gpu.index = i;
    gpu.model = name;
    gpu.uuid = uuid;
    gpu.memoryBytes = memory.total;
    probe.gpus.push_back(std::move(gpu));
  }
  nvml.shutdown();
  ::dlclose(lib);
  return probe;
}

HostResources probeResources() {
  HostResources r;
  r.cores = affinityCores();
  r.memoryBytes = totalMemory();
  auto gpus = probeGpus();
  r.gpus = std::move(gpus.gpus);
  r.gpuError = std::move(gpus.error);
  return r;
}

}  // namespace ionet::launcher
