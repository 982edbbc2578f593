// The exported tables of libnccl-net-ionet.so: ncclNetPlugin_v11 (NCCL 2.28-2.30 look it up
// first), v10, v9 and v8 (older NCCLs, e.g. the one bundled with an older PyTorch). Each entry
// adapts its version's argument list onto net.h; nothing throws across this boundary. The
// version script (exports.map) exports these four symbols and nothing else.
#include <exception>
#include <limits>

#include "net.h"
#include "net_abi.h"

namespace ionet::bridge::nccl {
namespace {

constexpr std::size_t kMaxTransferBytes = std::size_t{1} << 40;  // NCCL_MAX_NET_SIZE_BYTES

// Runs f, turning an escaping exception (std::bad_alloc) into an NCCL status.
template <typename F>
ncclResult_t guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return ncclSystemError;
  } catch (...) {
    return ncclInternalError;
  }
}

template <typename Props>
ncclResult_t properties(int dev, Props* props) {
  return guarded([&] {
    DeviceProperties p;
    const ncclResult_t r = netProperties(dev, &p);
    if (r != ncclSuccess) return r;
    fillCommonProperties(p, props);
    return ncclSuccess;
  });
}

template <typename Props>
void fillV9Fields(Props* props) {
  props->forceFlush = 0;
  props->vProps.ndevs = 1;
  props->vProps.devs[0] = 0;
  props->maxP2pBytes = kMaxTransferBytes;
  props->maxCollBytes = kMaxTransferBytes;
}

ncclResult_t propertiesV8(int dev, ncclNetProperties_v8_t* props) { return properties(dev, props); }
ncclResult_t propertiesV9(int dev, ncclNetProperties_v9_t* props) {
  const ncclResult_t r = properties(dev, props);
  if (r == ncclSuccess) fillV9Fields(props);
  return r;
}
ncclResult_t propertiesV11(int dev, ncclNetProperties_v11_t* props) {
  const ncclResult_t r = properties(dev, props);
  if (r == ncclSuccess) {
    fillV9Fields(props);
    props->maxMultiRequestSize = 1;
  }
  return r;
}

ncclResult_t initV8(ncclDebugLogger_t logger) {
  return guarded([&] { return netInit(logger); });
}
ncclResult_t initV10(ncclDebugLogger_t logger, ncclProfilerCallback_t) { return initV8(logger); }
ncclResult_t initV11(void** ctx, uint64_t, ncclNetCommConfig_t*, ncclDebugLogger_t logger,
                     ncclProfilerCallback_t) {
  *ctx = nullptr;
  const ncclResult_t r = initV8(logger);
  // Any non-null context: the network is per process and outlives every communicator.
  static int context;
  if (r == ncclSuccess) *ctx = &context;
  return r;
}
ncclResult_t finalizeV11(void* ctx) {
  // NCCL also finalizes after a failed init, with the null context init left.
  return ctx ? guarded([] { return netFinalize(); }) : ncclSuccess;
}

ncclResult_t devices(int* ndev) { return netDevices(ndev); }

ncclResult_t listenV8(int dev, void* handle, void** listenComm) {
  return guarded([&] { return netListen(dev, handle, listenComm); });
}
ncclResult_t listenV11(void*, int dev, void* handle, void** listenComm) {
  return listenV8(dev, handle, listenComm);
}

ncclResult_t connectV8(int dev, void* handle, void** sendComm, ncclNetDeviceHandle_t** devComm) {
  if (devComm) *devComm = nullptr;  // no device offload
  return guarded([&] { return netConnect(dev, handle, sendComm); });
}
ncclResult_t connectV10(int dev, ncclNetCommConfig_t*, void* handle, void** sendComm,
                        ncclNetDeviceHandle_t** devComm) {
  return connectV8(dev, handle, sendComm, devComm);
}
ncclResult_t connectV11(void*, int dev, void* handle, void** sendComm,
                        ncclNetDeviceHandle_t** devComm) {
  return connectV8(dev, handle, sendComm, devComm);
}

ncclResult_t accept(void* listenComm, void** recvComm, ncclNetDeviceHandle_t** devComm) {
  if (devComm) *devComm = nullptr;
  return guarded([&] { return netAccept(listenComm, recvComm); });
}

ncclResult_t regMr(void* comm, void* data, size_t size, int type, void** mhandle) {
  return netRegMr(comm, data, size, type, mhandle);
}
ncclResult_t deregMr(void* comm, void* mhandle) { return netDeregMr(comm, mhandle); }

ncclResult_t isendV9(void* sendComm, void* data, size_t size, int, void*, void** request) {
  return guarded([&] { return netIsend(sendComm, data, size, request); });
}
ncclResult_t isendV10(void* sendComm, void* data, size_t size, int tag, void* mhandle, void*,
                      void** request) {
  return isendV9(sendComm, data, size, tag, mhandle, request);
}
ncclResult_t isendV8(void* sendComm, void* data, int size, int tag, void* mhandle, void** request) {
  if (size < 0) return ncclInvalidArgument;
  return isendV9(sendComm, data, static_cast<size_t>(size), tag, mhandle, request);
}

ncclResult_t irecvV9(void* recvComm, int n, void** data, size_t* sizes, int*, void**,
                     void** request) {
  return guarded([&] { return netIrecv(recvComm, n, data, sizes, request); });
}
ncclResult_t irecvV10(void* recvComm, int n, void** data, size_t* sizes, int* tags, void** mhandles,
                      void**, void** request) {
  return irecvV9(recvComm, n, data, sizes, tags, mhandles, request);
}
ncclResult_t irecvV8(void* recvComm, int n, void** data, int* sizes, int* tags, void** mhandles,
                     void** request) {
  if (n != 1 || sizes[0] < 0) {
    *request = nullptr;
    return ncclInternalError;
  }
  size_t size = static_cast<size_t>(sizes[0]);
  return irecvV9(recvComm, n, data, &size, tags, mhandles, request);
}

ncclResult_t iflush(void* recvComm, int, void**, int*, void**, void** request) {
  return netIflush(recvComm, request);
}

// NCCL's sizes are int in every version's test(): a message beyond 2 GiB reports INT_MAX.
ncclResult_t test(void* request, int* done, int* sizes) {
  return guarded([&] {
    size_t size = 0;
    const ncclResult_t r = netTest(request, done, &size);
    if (sizes && *done) {
      *sizes = size > static_cast<size_t>(std::numeric_limits<int>::max())
                   ? std::numeric_limits<int>::max()
                   : static_cast<int>(size);
    }
    return r;
  });
}

ncclResult_t closeSend(void* comm) {
  return guarded([&] { return netCloseSend(comm); });
}
ncclResult_t closeRecv(void* comm) {
  return guarded([&] { return netCloseRecv(comm); });
}
ncclResult_t closeListen(void* comm) {
  return guarded([&] { return netCloseListen(comm); });
}

}  // namespace
}  // namespace ionet::bridge::nccl

using namespace ionet::bridge::nccl;

// The optional entries (regMrDmaBuf, getDeviceMr, irecvConsumed, makeVDevice, setNetAttr) are
// null: NCCL checks them before use.
extern "C" {

__attribute__((visibility("default"))) extern const ncclNet_v11_t ncclNetPlugin_v11;
const ncclNet_v11_t ncclNetPlugin_v11 = {
    "ionet",     initV11, devices,  propertiesV11, listenV11,   connectV11, accept,    regMr,
    nullptr,     deregMr, isendV10, irecvV10,      iflush,      test,       closeSend, closeRecv,
    closeListen, nullptr, nullptr,  nullptr,       finalizeV11, nullptr};

__attribute__((visibility("default"))) extern const ncclNet_v10_t ncclNetPlugin_v10;
const ncclNet_v10_t ncclNetPlugin_v10 = {"ionet",    initV10,     devices, propertiesV9, listenV8,
                                         connectV10, accept,      regMr,   nullptr,      deregMr,
                                         isendV10,   irecvV10,    iflush,  test,         closeSend,
                                         closeRecv,  closeListen, nullptr, nullptr,      nullptr};

__attribute__((visibility("default"))) extern const ncclNet_v9_t ncclNetPlugin_v9;
const ncclNet_v9_t ncclNetPlugin_v9 = {"ionet",   initV8,      devices, propertiesV9, listenV8,
                                       connectV8, accept,      regMr,   nullptr,      deregMr,
                                       isendV9,   irecvV9,     iflush,  test,         closeSend,
                                       closeRecv, closeListen, nullptr, nullptr,      nullptr};

__attribute__((visibility("default"))) extern const ncclNet_v8_t ncclNetPlugin_v8;
const ncclNet_v8_t ncclNetPlugin_v8 = {"ionet",   initV8,      devices, propertiesV8, listenV8,
                                       connectV8, accept,      regMr,   nullptr,      deregMr,
                                       isendV8,   irecvV8,     iflush,  test,         closeSend,
                                       closeRecv, closeListen, nullptr, nullptr};

}  // extern "C"
