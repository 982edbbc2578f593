// The C API over the C++ core: every entry point catches everything and returns a status; the
// message stays in the handle for ionet_ckpt_error.
#include <cstdio>
#include <new>
#include <optional>

#include "ionet/ckpt/checkpoint.h"
#include "ionet_ckpt.h"

using namespace ionet::ckpt;

struct ionet_ckpt {
  std::unique_ptr<CheckpointDir> dir;
  std::optional<SetWriter> writer;
  std::unique_ptr<SetReader> reader;
  std::vector<std::string> skipped;
  std::string error;
  std::string value;  // storage behind ionet_ckpt_get_meta's *value
  std::string restoredPath;
  ionet_ckpt_skip_fn onSkip = nullptr;
  void* onSkipUser = nullptr;
  bool defaultSkipReport = true;
};

namespace {

// Runs f; a throw becomes the status and message of h.
template <typename F>
int guarded(ionet_ckpt_t* h, F&& f) noexcept {
  if (!h) return IONET_CKPT_ERR_ARG;
  try {
    h->error.clear();
    f();
    return IONET_CKPT_OK;
  } catch (const Error& e) {
    h->error = e.what();
    return static_cast<int>(e.status());
  } catch (const std::bad_alloc&) {
    h->error = "out of memory";
  } catch (const std::exception& e) {
    h->error = e.what();
  } catch (...) {
    h->error = "unknown exception";
  }
  return IONET_CKPT_ERR_INTERNAL;
}

void require(bool cond, Status s, const std::string& what) {
  if (!cond) throw Error(s, what);
}

SetWriter& writer(ionet_ckpt_t* h) {
  require(h->writer.has_value(), Status::kBadState, "no set being written: call ionet_ckpt_begin");
  return *h->writer;
}

SetReader& reader(ionet_ckpt_t* h) {
  require(h->reader != nullptr, Status::kBadState, "no restored set: call ionet_ckpt_restore");
  return *h->reader;
}

std::string text(const char* s, const char* what) {
  require(s != nullptr, Status::kInvalidArgument, std::string(what) + " is NULL");
  return s;
}

}  // namespace

extern "C" {

int ionet_ckpt_open(const char* dir, int keep, MPI_Comm comm, ionet_ckpt_t** out) {
  if (!out) return IONET_CKPT_ERR_ARG;
  *out = new (std::nothrow) ionet_ckpt;
  return guarded(*out, [&] {
    Options o;
    if (dir) o.dir = dir;
    o.keep = keep == 0 ? 2 : keep;
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized)
      o.comm = mpiComm(comm == MPI_COMM_NULL ? MPI_COMM_WORLD : comm);
    else
      o.comm = soloComm();
    (*out)->dir = std::make_unique<CheckpointDir>(std::move(o));
  });
}

void ionet_ckpt_close(ionet_ckpt_t* h) { delete h; }

const char* ionet_ckpt_error(const ionet_ckpt_t* h) {
  return h ? h->error.c_str() : "no handle (out of memory, or NULL passed)";
}

const char* ionet_ckpt_status_name(int status) { return statusName(static_cast<Status>(status)); }

int ionet_ckpt_begin(ionet_ckpt_t* h, int64_t step) {
  return guarded(h, [&] {
    require(h->dir != nullptr, Status::kBadState, "the handle did not open");
    h->writer.reset();  // an unfinished earlier set is abandoned
    h->writer.emplace(h->dir->begin(step));
  });
}

int ionet_ckpt_write(ionet_ckpt_t* h, const char* name, ionet_ckpt_dtype dtype, int ndims,
                     const uint64_t* dims, const void* data) {
  return guarded(h, [&] {
    SetWriter& w = writer(h);
    std::string n;
    // Argument errors are the write's failure too: commit must then fail on every rank.
    try {
      n = text(name, "dataset name");
      require(validDType(dtype), Status::kInvalidArgument,
              "dataset '" + n + "': unknown dtype " + std::to_string(dtype));
      require(ndims >= 0 && ndims <= IONET_CKPT_MAX_DIMS && (ndims == 0 || dims),
              Status::kInvalidArgument, "dataset '" + n + "': bad ndims or NULL dims");
    } catch (const Error& e) {
      w.markFailed(e);
      throw;
    }
    w.write(n, static_cast<DType>(dtype), std::span<const std::uint64_t>(dims, ndims), data);
  });
}

int ionet_ckpt_set_meta(ionet_ckpt_t* h, const char* key, const char* value) {
  return guarded(h, [&] {
    SetWriter& w = writer(h);
    std::string k, v;
    try {
      k = text(key, "metadata key");
      v = text(value, "metadata value");
    } catch (const Error& e) {
      w.markFailed(e);
      throw;
    }
    w.setMetadata(k, v);
  });
}

int ionet_ckpt_commit(ionet_ckpt_t* h) {
  return guarded(h, [&] {
    SetWriter& w = writer(h);
    struct Reset {
      ionet_ckpt_t* h;
      ~Reset() { h->writer.reset(); }
    } reset{h};
    w.commit();
  });
}

int ionet_ckpt_abort(ionet_ckpt_t* h) {
  return guarded(h, [&] {
    writer(h).abort();
    h->writer.reset();
  });
}

void ionet_ckpt_set_skip_callback(ionet_ckpt_t* h, ionet_ckpt_skip_fn cb, void* user) {
  if (!h) return;
  h->onSkip = cb;
  h->onSkipUser = user;
  h->defaultSkipReport = false;
}

int ionet_ckpt_restore(ionet_ckpt_t* h, int64_t* step) {
  return guarded(h, [&] {
    require(h->dir != nullptr, Status::kBadState, "the handle did not open");
    h->reader.reset();
    h->restoredPath.clear();
    Restored r = h->dir->restore();
    h->skipped = std::move(r.skipped);
    for (const auto& line : h->skipped) {
      if (h->onSkip)
        h->onSkip(line.c_str(), h->onSkipUser);
      else if (h->defaultSkipReport && h->dir->comm().rank() == 0)
        std::fprintf(stderr, "ionet-ckpt: skipped %s\n", line.c_str());
    }
    if (!r.set) {
      std::string where = h->dir->path().string();
      throw Error(Status::kNotFound, h->skipped.empty()
                                         ? where + ": no checkpoint set"
                                         : where + ": no valid checkpoint set (" +
                                               std::to_string(h->skipped.size()) +
                                               " skipped; first: " + h->skipped.front() + ")");
    }
    h->reader = std::move(r.set);
    h->restoredPath = h->reader->path().string();
    if (step) *step = h->reader->step();
  });
}

int ionet_ckpt_skipped_count(const ionet_ckpt_t* h) {
  return h ? static_cast<int>(h->skipped.size()) : 0;
}

const char* ionet_ckpt_skipped(const ionet_ckpt_t* h, int i) {
  if (!h || i < 0 || i >= static_cast<int>(h->skipped.size())) return nullptr;
  return h->skipped[i].c_str();
}

const char* ionet_ckpt_restored_path(const ionet_ckpt_t* h) {
  return h && h->reader ? h->restoredPath.c_str() : nullptr;
}

int ionet_ckpt_shape(ionet_ckpt_t* h, const char* name, ionet_ckpt_dtype* dtype, int* ndims,
                     uint64_t* dims, int max_dims) {
  return guarded(h, [&] {
    std::string n = text(name, "dataset name");
    require(ndims != nullptr, Status::kInvalidArgument, "ndims is NULL");
    DatasetInfo info = reader(h).dataset(n);
    int rankOf = static_cast<int>(info.dims.size());
    require(rankOf <= max_dims && (rankOf == 0 || dims), Status::kInvalidArgument,
            "dataset '" + n + "' has " + std::to_string(rankOf) + " dimensions, max_dims is " +
                std::to_string(max_dims));
    *ndims = rankOf;
    for (int i = 0; i < rankOf; ++i) dims[i] = info.dims[i];
    if (dtype) *dtype = static_cast<ionet_ckpt_dtype>(info.dtype);
  });
}

int ionet_ckpt_read(ionet_ckpt_t* h, const char* name, ionet_ckpt_dtype dtype, void* buf,
                    uint64_t buf_bytes) {
  return guarded(h, [&] {
    std::string n = text(name, "dataset name");
    require(validDType(dtype), Status::kInvalidArgument, "unknown dtype");
    require(buf != nullptr || buf_bytes == 0, Status::kInvalidArgument, "buf is NULL");
    reader(h).read(n, static_cast<DType>(dtype), buf, buf_bytes);
  });
}

int ionet_ckpt_get_meta(ionet_ckpt_t* h, const char* key, const char** value) {
  return guarded(h, [&] {
    require(value != nullptr, Status::kInvalidArgument, "value is NULL");
    h->value = reader(h).metadata(text(key, "key"));
    *value = h->value.c_str();
  });
}

}  // extern "C"
