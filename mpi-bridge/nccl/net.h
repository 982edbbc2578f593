// ionet's NCCL network, behind the version tables of plugin.cc: comms are links to the host's
// agent (nccl_link.h), requests are MessageQueue entries. Every function returns an NCCL status
// and never throws; the tables only adapt argument lists between ABI versions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "net_abi.h"

namespace ionet::bridge::nccl {

// What getProperties reports, whatever the version's struct.
struct DeviceProperties {
  int speedMbps = 0;
  float latencyMicros = 0;
};

ncclResult_t netInit(ncclDebugLogger_t logger);
ncclResult_t netFinalize();
ncclResult_t netDevices(int* ndev);
ncclResult_t netProperties(int dev, DeviceProperties* props);
ncclResult_t netListen(int dev, void* handle, void** listenComm);
ncclResult_t netConnect(int dev, void* handle, void** sendComm);
ncclResult_t netAccept(void* listenComm, void** recvComm);
ncclResult_t netRegMr(void* comm, void* data, std::size_t size, int type, void** mhandle);
ncclResult_t netDeregMr(void* comm, void* mhandle);
ncclResult_t netIsend(void* sendComm, void* data, std::size_t size, void** request);
ncclResult_t netIrecv(void* recvComm, int n, void** data, const std::size_t* sizes, void** request);
ncclResult_t netIflush(void* recvComm, void** request);
ncclResult_t netTest(void* request, int* done, std::size_t* size);
ncclResult_t netCloseSend(void* sendComm);
ncclResult_t netCloseRecv(void* recvComm);
ncclResult_t netCloseListen(void* listenComm);

// Fills the common fields of any version's properties struct.
template <typename Props>
void fillCommonProperties(const DeviceProperties& p, Props* props) {
  static char name[] = "ionet";
  props->name = name;
  props->pciPath = nullptr;  // a virtual device: no PCI path, NCCL places it by itself
  props->guid = 0x696f6e6574ull;
  props->ptrSupport = NCCL_PTR_HOST;
  props->regIsGlobal = 0;
  props->speed = p.speedMbps;
  props->port = 0;
  props->latency = p.latencyMicros;
  props->maxComms = 65536;
  props->maxRecvs = 1;  // grouped receives would need NCCL's multi-receive matching
  props->netDeviceType = NCCL_NET_DEVICE_HOST;
  props->netDeviceVersion = 0;
}

}  // namespace ionet::bridge::nccl
