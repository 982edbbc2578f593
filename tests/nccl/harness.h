// The nccl_net_harness's pieces (see nccl_net_harness.cc): how it fails, the plugin's tables
// behind one face for every ABI version, and its bootstrap (NCCL's, in miniature).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include "net_abi.h"

namespace harness {

// Prints "nccl_net_harness: ..." and exits 1.
[[noreturn]] void die(const char* fmt, ...);

// NCCL's logger, as the plugin gets it: WARN and INFO lines on stderr.
void logger(ncclDebugLogLevel level, unsigned long flags, const char* file, int line,
            const char* fmt, ...);

// One face for every ABI version the plugin exports.
struct Net {
  int abi = 11;
  const ncclNet_v11_t* v11 = nullptr;
  const ncclNet_v10_t* v10 = nullptr;
  const ncclNet_v9_t* v9 = nullptr;
  const ncclNet_v8_t* v8 = nullptr;
  void* ctx = nullptr;

  const char* name() const { return v11 ? v11->name : v10 ? v10->name : v9 ? v9->name : v8->name; }
  ncclResult_t init() {
    if (v11) return v11->init(&ctx, 1, nullptr, logger, nullptr);
    if (v10) return v10->init(logger, nullptr);
    if (v9) return v9->init(logger);
    return v8->init(logger);
  }
  ncclResult_t finalize() { return v11 ? v11->finalize(ctx) : ncclSuccess; }
  ncclResult_t devices(int* ndev) {
    return v11   ? v11->devices(ndev)
           : v10 ? v10->devices(ndev)
           : v9  ? v9->devices(ndev)
                 : v8->devices(ndev);
  }
  void properties(int* speed, float* latency, int* maxRecvs, int* ptr) {
    ncclResult_t r;
    if (v11) {
      ncclNetProperties_v11_t p{};
      r = v11->getProperties(0, &p);
      *speed = p.speed, *latency = p.latency, *maxRecvs = p.maxRecvs, *ptr = p.ptrSupport;
    } else if (v10 || v9) {
      ncclNetProperties_v9_t p{};
      r = v10 ? v10->getProperties(0, &p) : v9->getProperties(0, &p);
      *speed = p.speed, *latency = p.latency, *maxRecvs = p.maxRecvs, *ptr = p.ptrSupport;
    } else {
      ncclNetProperties_v8_t p{};
      r = v8->getProperties(0, &p);
      *speed = p.speed, *latency = p.latency, *maxRecvs = p.maxRecvs, *ptr = p.ptrSupport;
    }
    if (r != ncclSuccess) die("getProperties: %d", r);
  }
  ncclResult_t listen(void* handle, void** comm) {
    if (v11) return v11->listen(ctx, 0, handle, comm);
    if (v10) return v10->listen(0, handle, comm);
    if (v9) return v9->listen(0, handle, comm);
    return v8->listen(0, handle, comm);
  }
  ncclResult_t connect(void* handle, void** comm) {
    ncclNetDeviceHandle_t* dev = nullptr;
    ncclNetCommConfig_t config{-1};
    if (v11) return v11->connect(ctx, 0, handle, comm, &dev);
    if (v10) return v10->connect(0, &config, handle, comm, &dev);
    if (v9) return v9->connect(0, handle, comm, &dev);
    return v8->connect(0, handle, comm, &dev);
  }
  ncclResult_t accept(void* listenComm, void** comm) {
    ncclNetDeviceHandle_t* dev = nullptr;
    if (v11) return v11->accept(listenComm, comm, &dev);
    if (v10) return v10->accept(listenComm, comm, &dev);
    if (v9) return v9->accept(listenComm, comm, &dev);
    return v8->accept(listenComm, comm, &dev);
  }
  ncclResult_t regMr(void* comm, void* data, size_t size, void** mh) {
    if (v11) return v11->regMr(comm, data, size, NCCL_PTR_HOST, mh);
    if (v10) return v10->regMr(comm, data, size, NCCL_PTR_HOST, mh);
    if (v9) return v9->regMr(comm, data, size, NCCL_PTR_HOST, mh);
    return v8->regMr(comm, data, size, NCCL_PTR_HOST, mh);
  }
  ncclResult_t isend(void* comm, void* data, size_t size, int tag, void* mh, void** req) {
    if (v11) return v11->isend(comm, data, size, tag, mh, nullptr, req);
    if (v10) return v10->isend(comm, data, size, tag, mh, nullptr, req);
    if (v9) return v9->isend(comm, data, size, tag, mh, req);
    return v8->isend(comm, data, static_cast<int>(size), tag, mh, req);
  }
  ncclResult_t irecv(void* comm, void* data, size_t size, int tag, void* mh, void** req) {
    void* datas[1] = {data};
    int tags[1] = {tag};
    void* mhs[1] = {mh};
    void* phs[1] = {nullptr};
    size_t sizes[1] = {size};
    if (v11) return v11->irecv(comm, 1, datas, sizes, tags, mhs, phs, req);
    if (v10) return v10->irecv(comm, 1, datas, sizes, tags, mhs, phs, req);
    if (v9) return v9->irecv(comm, 1, datas, sizes, tags, mhs, req);
    int isizes[1] = {static_cast<int>(size)};
    return v8->irecv(comm, 1, datas, isizes, tags, mhs, req);
  }
  ncclResult_t test(void* req, int* done, int* size) {
    if (v11) return v11->test(req, done, size);
    if (v10) return v10->test(req, done, size);
    if (v9) return v9->test(req, done, size);
    return v8->test(req, done, size);
  }
  ncclResult_t closeSend(void* c) {
    return v11   ? v11->closeSend(c)
           : v10 ? v10->closeSend(c)
           : v9  ? v9->closeSend(c)
                 : v8->closeSend(c);
  }
  ncclResult_t closeRecv(void* c) {
    return v11   ? v11->closeRecv(c)
           : v10 ? v10->closeRecv(c)
           : v9  ? v9->closeRecv(c)
                 : v8->closeRecv(c);
  }
  ncclResult_t closeListen(void* c) {
    return v11   ? v11->closeListen(c)
           : v10 ? v10->closeListen(c)
           : v9  ? v9->closeListen(c)
                 : v8->closeListen(c);
  }
};

// Loads the plugin as NCCL does (NCCL_NET_PLUGIN) and takes its ncclNetPlugin_v<abi>.
Net load(int abi);

// Exact writes and reads on a socket; die on failure.
void writeAll(int s, const void* p, size_t n);
void readAll(int s, void* p, size_t n);

// --- the bootstrap: 128-byte handles over TCP, as NCCL's bootstrap carries them --------------
// Rank 0 accepts one connection per other rank at MASTER_ADDR:MASTER_PORT (through the shim
// across hosts). Ranks form a ring: rank r sends to r + 1 and receives from r - 1.
struct Bootstrap {
  int rank = 0, size = 2;
  std::vector<int> sockets;  // rank 0: by rank ([0] unused); others: [0] is rank 0

  int peer() const { return rank == 0 ? sockets[1] : sockets[0]; }  // the 2-rank modes

  // Each rank's listen handle to rank 0; each gets back its successor's.
  void nextHandle(const char* mine, char* next) {
    const size_t n = NCCL_NET_HANDLE_MAXSIZE;
    if (rank != 0) {
      writeAll(sockets[0], mine, n);
      readAll(sockets[0], next, n);
      return;
    }
    std::vector<std::vector<char>> all(size, std::vector<char>(n));
    std::memcpy(all[0].data(), mine, n);
    for (int r = 1; r < size; ++r) readAll(sockets[r], all[r].data(), n);
    for (int r = 1; r < size; ++r) writeAll(sockets[r], all[(r + 1) % size].data(), n);
    std::memcpy(next, all[1 % size].data(), n);
  }

  void barrier() {
    char b = 1;
    if (rank != 0) {
      writeAll(sockets[0], &b, 1);
      readAll(sockets[0], &b, 1);
      return;
    }
    for (int r = 1; r < size; ++r) readAll(sockets[r], &b, 1);
    for (int r = 1; r < size; ++r) writeAll(sockets[r], &b, 1);
  }

  ~Bootstrap() {
    for (int s : sockets) {
      if (s >= 0) ::close(s);
    }
  }
};

// Rank 0 listens at MASTER_PORT for the size - 1 others, which dial MASTER_ADDR.
std::unique_ptr<Bootstrap> connectBootstrap(int rank, int size);

}  // namespace harness
