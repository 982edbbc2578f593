// HDF5 calls for one rank file. HDF5's own error printing is silenced during our calls; a failure
// is reported as one line: the file, what we were doing, and the innermost HDF5 error (with the
// OS error, e.g. "No space left on device", when the fault came from a system call).
#include "h5_file.h"

#include <hdf5.h>

#include <cstring>
#include <mutex>
#include <type_traits>

#include "ionet/ckpt/status.h"

namespace ionet::ckpt {
namespace {

static_assert(std::is_same_v<hid_t, std::int64_t>, "hid_t is stored as int64_t in h5_file.h");

std::mutex& h5Mutex() {
  static std::mutex m;
  return m;
}

// One of our HDF5 calls: holds the lock, mutes HDF5's automatic stderr report (the caller's
// handler is restored after) and starts with an empty error stack.
class H5Call {
 public:
  H5Call() : lock_(h5Mutex()) {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    H5Eclear2(H5E_DEFAULT);
  }
  ~H5Call() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

 private:
  std::lock_guard<std::mutex> lock_;
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// Closes an HDF5 identifier of any kind when it goes out of scope.
class Id {
 public:
  explicit Id(hid_t id = -1) : id_(id) {}
  ~Id() {
    if (id_ >= 0) H5Idec_ref(id_);
  }
  Id(Id&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
};

struct StackWalk {
  std::string innermost;
  bool noSpace = false;
};

herr_t walkEntry(unsigned n, const H5E_error2_t* e, void* data) {
  auto* w = static_cast<StackWalk*>(data);
  std::string desc = e->desc ? e->desc : "";
  if (n == 0) w->innermost = desc;
  // The sec2 driver formats the OS error into the description: "errno = 28, error message = ..."
  if (desc.find("errno = 28,") != std::string::npos ||
      desc.find("errno = 122,") != std::string::npos)
    w->noSpace = true;
  return 0;
}

[[noreturn]] void fail(Status status, const std::string& what) {
  StackWalk w;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walkEntry, &w);
  H5Eclear2(H5E_DEFAULT);
  std::string detail = w.innermost.empty() ? "HDF5 call failed" : w.innermost;
  auto at = detail.find("error message = '");
  if (at != std::string::npos) {
    auto start = at + std::strlen("error message = '");
    auto end = detail.find('\'', start);
    auto head = detail.substr(0, detail.find(':'));
    detail = detail.substr(start, end - start) + " (HDF5: " + head + ")";
  } else {
    detail = "HDF5: " + detail;
  }
  throw Error(w.noSpace ? Status::kNoSpace : status, what + ": " + detail);
}

hid_t fileType(DType t) {
  switch (t) {
    case DType::kFloat64:
      return H5T_IEEE_F64LE;
    case DType::kFloat32:
      return H5T_IEEE_F32LE;
    case DType::kInt32:
      return H5T_STD_I32LE;
    case DType::kInt64:
      return H5T_STD_I64LE;
    case DType::kUInt8:
      return H5T_STD_U8LE;
  }
  return -1;
}

hid_t memoryType(DType t) {
  switch (t) {
    case DType::kFloat64:
      return H5T_NATIVE_DOUBLE;
    case DType::kFloat32:
      return H5T_NATIVE_FLOAT;
    case DType::kInt32:
      return H5T_NATIVE_INT32;
    case DType::kInt64:
      return H5T_NATIVE_INT64;
    case DType::kUInt8:
      return H5T_NATIVE_UINT8;
  }
  return -1;
}

bool dtypeOfFile(hid_t type, DType& out) {
  H5T_class_t cls = H5Tget_class(type);
  std::size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT && size == 8) return out = DType::kFloat64, true;
  if (cls == H5T_FLOAT && size == 4) return out = DType::kFloat32, true;
  if (cls == H5T_INTEGER) {
    bool isSigned = H5Tget_sign(type) == H5T_SGN_2;
    if (isSigned && size == 4) return out = DType::kInt32, true;
    if (isSigned && size == 8) return out = DType::kInt64, true;
    if (!isSigned && size == 1) return out = DType::kUInt8, true;
  }
  return false;
}

void writeScalarAttribute(hid_t file, const char* name, hid_t fileT, hid_t memT, const void* v,
                          const std::string& where) {
  Id space(H5Screate(H5S_SCALAR));
  Id attr(H5Acreate2(file, name, fileT, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.ok() || H5Awrite(attr.get(), memT, v) < 0)
    fail(Status::kIo, where + ": writing attribute '" + name + "'");
}

Id utf8StringType() {
  Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

}  // namespace

bool reservedAttribute(std::string_view key) {
  return key == "step" || key == "rank" || key == "nranks";
}

RankFileWriter::RankFileWriter(std::filesystem::path path, std::int64_t step, int rank, int nranks)
    : path_(std::move(path)) {
  H5Call call;
  // Exclusive: a rank file is written once, never opened for update.
  file_ = H5Fcreate(path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) fail(Status::kIo, path_.string() + ": cannot create");
  try {
    writeScalarAttribute(file_, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &step, path_.string());
    writeScalarAttribute(file_, "rank", H5T_STD_I32LE, H5T_NATIVE_INT32, &rank, path_.string());
    writeScalarAttribute(file_, "nranks", H5T_STD_I32LE, H5T_NATIVE_INT32, &nranks, path_.string());
  } catch (...) {
    H5Fclose(file_);  // no destructor runs for a constructor that throws
    throw;
  }
}

RankFileWriter::~RankFileWriter() {
  if (file_ >= 0) {
    H5Call call;
    H5Fclose(file_);
  }
}

void RankFileWriter::writeDataset(std::string_view name, DType dtype,
                                  std::span<const std::uint64_t> dims, const void* data) {
  std::string where = path_.string() + ": dataset '" + std::string(name) + "'";
  if (name.empty() || name.find('\0') != std::string_view::npos)
    throw Error(Status::kInvalidArgument, path_.string() + ": empty or invalid dataset name");
  if (!validDType(static_cast<int>(dtype)))
    throw Error(Status::kInvalidArgument, where + ": unknown dtype");
  if (dims.size() > H5S_MAX_RANK)
    throw Error(Status::kInvalidArgument, where + ": more than 32 dimensions");
  DatasetInfo info{dtype, {dims.begin(), dims.end()}};
  if (info.elements() > 0 && data == nullptr)
    throw Error(Status::kInvalidArgument, where + ": no data buffer");

  H5Call call;
  std::vector<hsize_t> hdims(dims.begin(), dims.end());
  Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(hdims.size()), hdims.data(), nullptr));
  if (!space.ok()) fail(Status::kInvalidArgument, where + ": bad shape");
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  // Default creation properties: contiguous layout, so H5Dwrite goes from data to the file.
  Id ds(H5Dcreate2(file_, std::string(name).c_str(), fileType(dtype), space.get(), lcpl.get(),
                   H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.ok()) fail(Status::kIo, where + ": cannot create");
  if (info.elements() > 0 &&
      H5Dwrite(ds.get(), memoryType(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(Status::kIo, where + ": write failed");
}

void RankFileWriter::setMetadata(std::string_view key, std::string_view value) {
  std::string k(key), v(value);
  if (k.empty() || k.find('\0') != std::string::npos || reservedAttribute(k))
    throw Error(Status::kInvalidArgument,
                path_.string() + ": metadata key '" + k + "' is empty or reserved");
  if (v.find('\0') != std::string::npos)
    throw Error(Status::kInvalidArgument,
                path_.string() + ": metadata '" + k + "': value contains a NUL byte");
  H5Call call;
  if (H5Aexists(file_, k.c_str()) > 0) H5Adelete(file_, k.c_str());
  Id type = utf8StringType();
  const char* text = v.c_str();
  writeScalarAttribute(file_, k.c_str(), type.get(), type.get(), &text, path_.string());
}

void RankFileWriter::close() {
  H5Call call;
  hid_t f = file_;
  file_ = -1;
  if (H5Fclose(f) < 0) fail(Status::kIo, path_.string() + ": close failed");
}

RankFileReader::RankFileReader(std::filesystem::path path) : path_(std::move(path)) {
  H5Call call;
  file_ = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) fail(Status::kCorrupt, path_.string() + ": cannot open as HDF5");
}

RankFileReader::~RankFileReader() {
  if (file_ >= 0) {
    H5Call call;
    H5Fclose(file_);
  }
}

DatasetInfo RankFileReader::dataset(std::string_view name) const {
  std::string where = path_.string() + ": dataset '" + std::string(name) + "'";
  H5Call call;
  Id ds(H5Dopen2(file_, std::string(name).c_str(), H5P_DEFAULT));
  if (!ds.ok()) fail(Status::kNotFound, where + ": cannot open");
  Id type(H5Dget_type(ds.get()));
  DatasetInfo info{DType::kUInt8, {}};
  if (!dtypeOfFile(type.get(), info.dtype))
    throw Error(Status::kMismatch, where +
                                       ": element type is not one of float64, float32, "
                                       "int32, int64, uint8");
  Id space(H5Dget_space(ds.get()));
  int n = H5Sget_simple_extent_ndims(space.get());
  if (n < 0) fail(Status::kIo, where + ": cannot read its shape");
  std::vector<hsize_t> dims(static_cast<std::size_t>(n));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  info.dims.assign(dims.begin(), dims.end());
  return info;
}

void RankFileReader::read(std::string_view name, DType dtype, void* buf, std::size_t bytes) const {
  std::string where = path_.string() + ": dataset '" + std::string(name) + "'";
  DatasetInfo info = dataset(name);
  if (info.dtype != dtype)
    throw Error(Status::kMismatch,
                where + " is " + dtypeName(info.dtype) + ", read as " + dtypeName(dtype));
  if (bytes < info.bytes())
    throw Error(Status::kInvalidArgument, where + " needs " + std::to_string(info.bytes()) +
                                              " bytes, the buffer has " + std::to_string(bytes));
  if (info.elements() == 0) return;
  H5Call call;
  Id ds(H5Dopen2(file_, std::string(name).c_str(), H5P_DEFAULT));
  if (!ds.ok() || H5Dread(ds.get(), memoryType(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    fail(Status::kIo, where + ": read failed");
}

std::string RankFileReader::metadata(std::string_view key) const {
  std::string k(key), where = path_.string() + ": metadata '" + k + "'";
  H5Call call;
  if (k.empty() || H5Aexists(file_, k.c_str()) <= 0)
    throw Error(Status::kNotFound, where + ": no such key");
  Id attr(H5Aopen(file_, k.c_str(), H5P_DEFAULT));
  Id type(H5Aget_type(attr.get()));
  if (!attr.ok() || H5Tget_class(type.get()) != H5T_STRING)
    throw Error(Status::kMismatch, where + ": not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    Id mem = utf8StringType();
    char* text = nullptr;
    if (H5Aread(attr.get(), mem.get(), &text) < 0) fail(Status::kIo, where + ": read failed");
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  // A fixed-length string (written by another tool): read its bytes, drop the padding.
  std::size_t size = H5Tget_size(type.get());
  std::string out(size, '\0');
  Id mem(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem.get(), size);
  if (H5Aread(attr.get(), mem.get(), out.data()) < 0) fail(Status::kIo, where + ": read failed");
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::vector<std::string> RankFileReader::metadataKeys() const {
  std::vector<std::string> keys;
  H5Call call;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    if (!reservedAttribute(name)) static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  if (H5Aiterate2(file_, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &keys) < 0)
    fail(Status::kIo, path_.string() + ": cannot list attributes");
  return keys;
}

}  // namespace ionet::ckpt
