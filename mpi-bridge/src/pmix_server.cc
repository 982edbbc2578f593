// libpmix server glue. The module callbacks are C functions running on PMIx's progress thread;
// they copy what they need and hand it to the agent's hooks, which complete later from any
// thread (verified safe, see DESIGN.md section 3).
#include "ionet/bridge/pmix_server.h"

#include <pmix.h>
#include <pmix_server.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet::bridge {
namespace {

// libpmix keeps one server per process, and its callbacks carry no user pointer: a global.
PmixHooks* g_hooks = nullptr;

// Waits for one libpmix operation callback (pmix_op_cbfunc_t).
class OpWait {
 public:
  static void callback(pmix_status_t status, void* cbdata) {
    auto* self = static_cast<OpWait*>(cbdata);
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->status_ = status;
    self->done_ = true;
    self->cv_.notify_all();
  }
  pmix_status_t wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
    return status_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  pmix_status_t status_ = PMIX_SUCCESS;
};

// Wraps a libpmix modex callback as a ModexCompletion. The returned bytes stay alive until
// libpmix calls release_fn.
ModexCompletion modexCompletion(pmix_modex_cbfunc_t cbfunc, void* cbdata) {
  return [cbfunc, cbdata](int status, std::string data) {
    auto* owned = new std::string(std::move(data));
    cbfunc(
        status, owned->data(), owned->size(), cbdata,
        [](void* p) { delete static_cast<std::string*>(p); }, owned);
  };
}

pmix_status_t onClientConnected(const pmix_proc_t* proc, void*, pmix_op_cbfunc_t, void*) {
  if (g_hooks && g_hooks->onConnected) g_hooks->onConnected(proc->rank);
  return PMIX_OPERATION_SUCCEEDED;
}

pmix_status_t onClientFinalized(const pmix_proc_t* proc, void*, pmix_op_cbfunc_t, void*) {
  if (g_hooks && g_hooks->onFinalized) g_hooks->onFinalized(proc->rank);
  return PMIX_OPERATION_SUCCEEDED;
}

pmix_status_t onAbort(const pmix_proc_t* proc, void*, int status, const char msg[], pmix_proc_t*,
                      size_t, pmix_op_cbfunc_t, void*) {
  // Open MPI passes "N/A" when MPI_Abort has no message.
  std::string text = msg && std::strcmp(msg, "N/A") != 0 ? msg : "";
  if (g_hooks && g_hooks->onAbort) g_hooks->onAbort(proc->rank, status, std::move(text));
  return PMIX_OPERATION_SUCCEEDED;
}

pmix_status_t onFence(const pmix_proc_t procs[], size_t nprocs, const pmix_info_t[], size_t,
                      char* data, size_t ndata, pmix_modex_cbfunc_t cbfunc, void* cbdata) {
  if (!g_hooks || !g_hooks->onFence) return PMIX_ERR_NOT_SUPPORTED;
  std::vector<std::uint32_t> ranks;
  bool whole = false;
  for (size_t i = 0; i < nprocs; ++i) {
    if (procs[i].rank == PMIX_RANK_WILDCARD) whole = true;
    ranks.push_back(procs[i].rank);
  }
  g_hooks->onFence(FenceRequest{fenceSignature(ranks, whole),
                                data ? std::string(data, ndata) : std::string(),
                                modexCompletion(cbfunc, cbdata)});
  return PMIX_SUCCESS;
}

pmix_status_t onDirectModex(const pmix_proc_t* proc, const pmix_info_t[], size_t,
                            pmix_modex_cbfunc_t cbfunc, void* cbdata) {
  if (!g_hooks || !g_hooks->onDmodex) return PMIX_ERR_NOT_SUPPORTED;
  g_hooks->onDmodex(DmodexRequest{proc->rank, modexCompletion(cbfunc, cbdata)});
  return PMIX_SUCCESS;
}

pmix_server_module_t g_module = [] {
  pmix_server_module_t m;
  std::memset(&m, 0, sizeof(m));
  m.client_connected = onClientConnected;
  m.client_finalized = onClientFinalized;
  m.abort = onAbort;
  m.fence_nb = onFence;
  m.direct_modex = onDirectModex;
  return m;
}();

// "a,b,c" of a list of numbers / names.
template <typename T>
std::string joined(const std::vector<T>& items, const char* sep = ",") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    if constexpr (std::is_same_v<T, std::string>) {
      out += item;
    } else {
      out += std::to_string(item);
    }
  }
  return out;
}

void loadProc(pmix_proc_t* proc, const std::string& nspace, std::uint32_t rank) {
  PMIX_PROC_LOAD(proc, nspace.c_str(), rank);
}

}  // namespace

std::string fenceSignature(const std::vector<std::uint32_t>& ranks, bool wholeJob) {
  if (wholeJob) return "*";
  std::vector<std::uint32_t> sorted = ranks;
  std::sort(sorted.begin(), sorted.end());
  return joined(sorted);
}

PmixServer::PmixServer(const std::string& tmpDir, const std::string& hostName, PmixHooks hooks) {
  IONET_ENFORCE(g_hooks == nullptr, "one PMIx server per process");
  g_hooks = new PmixHooks(std::move(hooks));
  pmix_info_t info[5];
  bool no = false;
  bool yes = true;
  PMIX_INFO_LOAD(&info[0], PMIX_SERVER_TMPDIR, tmpDir.c_str(), PMIX_STRING);
  PMIX_INFO_LOAD(&info[1], PMIX_SYSTEM_TMPDIR, tmpDir.c_str(), PMIX_STRING);
  PMIX_INFO_LOAD(&info[2], PMIX_HOSTNAME, hostName.c_str(), PMIX_STRING);
  PMIX_INFO_LOAD(&info[3], PMIX_SERVER_TOOL_SUPPORT, &no, PMIX_BOOL);
  PMIX_INFO_LOAD(&info[4], PMIX_SERVER_SHARE_TOPOLOGY, &yes, PMIX_BOOL);
  pmix_status_t rc = PMIx_server_init(&g_module, info, 5);
  for (auto& i : info) PMIX_INFO_DESTRUCT(&i);
  IONET_ENFORCE(rc == PMIX_SUCCESS, "PMIx_server_init failed: ", PMIx_Error_string(rc));
}

PmixServer::~PmixServer() {
  PMIx_server_finalize();
  delete g_hooks;
  g_hooks = nullptr;
}

void PmixServer::registerJob(const JobLayout& layout) {
  nspace_ = layout.nspace;
  localRanks_ = layout.ranks.at(layout.hostIndex);

  char* nodeMap = nullptr;
  char* procMap = nullptr;
  std::vector<std::string> perHost;
  std::uint32_t worldSize = 0;
  for (const auto& r : layout.ranks) {
    perHost.push_back(joined(r));
    worldSize += static_cast<std::uint32_t>(r.size());
  }
  pmix_status_t rc = PMIx_generate_regex(joined(layout.hostNames).c_str(), &nodeMap);
  IONET_ENFORCE(rc == PMIX_SUCCESS, "PMIx_generate_regex: ", PMIx_Error_string(rc));
  rc = PMIx_generate_ppn(joined(perHost, ";").c_str(), &procMap);
  IONET_ENFORCE(rc == PMIX_SUCCESS, "PMIx_generate_ppn: ", PMIx_Error_string(rc));

  const std::string localPeers = joined(localRanks_);
  const auto localSize = static_cast<std::uint32_t>(localRanks_.size());
  const auto numNodes = static_cast<std::uint32_t>(layout.hostNames.size());
  const std::uint32_t zero = 0;
  const bool yes = true;
  std::vector<pmix_info_t> info(12);
  PMIX_INFO_LOAD(&info[0], PMIX_NODE_MAP, nodeMap, PMIX_REGEX);
  PMIX_INFO_LOAD(&info[1], PMIX_PROC_MAP, procMap, PMIX_REGEX);
  PMIX_INFO_LOAD(&info[2], PMIX_UNIV_SIZE, &worldSize, PMIX_UINT32);
  PMIX_INFO_LOAD(&info[3], PMIX_JOB_SIZE, &worldSize, PMIX_UINT32);
  PMIX_INFO_LOAD(&info[4], PMIX_MAX_PROCS, &worldSize, PMIX_UINT32);
  PMIX_INFO_LOAD(&info[5], PMIX_LOCAL_SIZE, &localSize, PMIX_UINT32);
  PMIX_INFO_LOAD(&info[6], PMIX_LOCAL_PEERS, localPeers.c_str(), PMIX_STRING);
  PMIX_INFO_LOAD(&info[7], PMIX_NUM_NODES, &numNodes, PMIX_UINT32);
  PMIX_INFO_LOAD(&info[8], PMIX_APPNUM, &zero, PMIX_UINT32);
  PMIX_INFO_LOAD(&info[9], PMIX_TMPDIR, layout.sessionDir.c_str(), PMIX_STRING);
  PMIX_INFO_LOAD(&info[10], PMIX_NSDIR, layout.sessionDir.c_str(), PMIX_STRING);
  PMIX_INFO_LOAD(&info[11], PMIX_TDIR_RMCLEAN, &yes, PMIX_BOOL);
  std::free(nodeMap);
  std::free(procMap);

  OpWait nsWait;
  rc = PMIx_server_register_nspace(nspace_.c_str(), static_cast<int>(localSize), info.data(),
                                   info.size(), OpWait::callback, &nsWait);
  if (rc == PMIX_SUCCESS) rc = nsWait.wait();
  for (auto& i : info) PMIX_INFO_DESTRUCT(&i);
  IONET_ENFORCE(rc == PMIX_SUCCESS || rc == PMIX_OPERATION_SUCCEEDED,
                "PMIx_server_register_nspace(", nspace_, "): ", PMIx_Error_string(rc));

  // Register every local client before waiting on any: the callbacks run in parallel.
  std::vector<OpWait> waits(localRanks_.size());
  std::vector<pmix_status_t> started(localRanks_.size());
  for (size_t i = 0; i < localRanks_.size(); ++i) {
    pmix_proc_t proc;
    loadProc(&proc, nspace_, localRanks_[i]);
    started[i] = PMIx_server_register_client(&proc, getuid(), getgid(), nullptr, OpWait::callback,
                                             &waits[i]);
  }
  for (size_t i = 0; i < localRanks_.size(); ++i) {
    rc = started[i] == PMIX_SUCCESS ? waits[i].wait() : started[i];
    IONET_ENFORCE(rc == PMIX_SUCCESS || rc == PMIX_OPERATION_SUCCEEDED,
                  "PMIx_server_register_client(rank ", localRanks_[i],
                  "): ", PMIx_Error_string(rc));
  }
}

std::vector<std::string> PmixServer::setupFork(std::uint32_t rank) {
  pmix_proc_t proc;
  loadProc(&proc, nspace_, rank);
  char** env = nullptr;
  pmix_status_t rc = PMIx_server_setup_fork(&proc, &env);
  std::vector<std::string> out;
  for (char** e = env; e && *e; ++e) {
    out.emplace_back(*e);
    std::free(*e);
  }
  std::free(env);
  IONET_ENFORCE(rc == PMIX_SUCCESS, "PMIx_server_setup_fork(rank ", rank,
                "): ", PMIx_Error_string(rc));
  return out;
}

void PmixServer::dmodexRequest(std::uint32_t rank, ModexCompletion complete) {
  pmix_proc_t proc;
  loadProc(&proc, nspace_, rank);
  auto* owned = new ModexCompletion(std::move(complete));
  pmix_status_t rc = PMIx_server_dmodex_request(
      &proc,
      [](pmix_status_t status, char* data, size_t size, void* cbdata) {
        std::unique_ptr<ModexCompletion> done(static_cast<ModexCompletion*>(cbdata));
        (*done)(status, data ? std::string(data, size) : std::string());
      },
      owned);
  if (rc != PMIX_SUCCESS) {
    std::unique_ptr<ModexCompletion> done(owned);
    (*done)(rc, std::string());
  }
}

void PmixServer::deregisterJob() {
  if (nspace_.empty()) return;
  // Deregistering the namespace purges its clients too: one call instead of one per rank.
  OpWait w;
  PMIx_server_deregister_nspace(nspace_.c_str(), OpWait::callback, &w);
  w.wait();
  nspace_.clear();
}

}  // namespace ionet::bridge
