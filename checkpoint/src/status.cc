// Status names, errno translation and the element types.
#include "ionet/ckpt/status.h"

#include <cerrno>
#include <cstring>

#include "ionet/ckpt/dtype.h"

namespace ionet::ckpt {

const char* statusName(Status s) {
  switch (s) {
    case Status::kOk:
      return "IONET_CKPT_OK";
    case Status::kInvalidArgument:
      return "IONET_CKPT_ERR_ARG";
    case Status::kBadState:
      return "IONET_CKPT_ERR_STATE";
    case Status::kIo:
      return "IONET_CKPT_ERR_IO";
    case Status::kNoSpace:
      return "IONET_CKPT_ERR_NOSPACE";
    case Status::kNotFound:
      return "IONET_CKPT_ERR_NOT_FOUND";
    case Status::kCorrupt:
      return "IONET_CKPT_ERR_CORRUPT";
    case Status::kMismatch:
      return "IONET_CKPT_ERR_MISMATCH";
    case Status::kMpi:
      return "IONET_CKPT_ERR_MPI";
    case Status::kInternal:
      return "IONET_CKPT_ERR_INTERNAL";
  }
  return "IONET_CKPT_ERR_UNKNOWN";
}

void throwErrno(int err, const std::string& what) {
  // EDQUOT is the same condition for the user: the filesystem will not take more bytes.
  Status s = (err == ENOSPC || err == EDQUOT) ? Status::kNoSpace : Status::kIo;
  throw Error(s, what + ": " + std::strerror(err));
}

std::size_t dtypeSize(DType t) {
  switch (t) {
    case DType::kFloat64:
      return 8;
    case DType::kFloat32:
      return 4;
    case DType::kInt32:
      return 4;
    case DType::kInt64:
      return 8;
    case DType::kUInt8:
      return 1;
  }
  return 0;
}

const char* dtypeName(DType t) {
  switch (t) {
    case DType::kFloat64:
      return "float64";
    case DType::kFloat32:
      return "float32";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kUInt8:
      return "uint8";
  }
  return "invalid";
}

bool validDType(int t) { return t >= 0 && t <= static_cast<int>(DType::kUInt8); }

std::uint64_t DatasetInfo::elements() const {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

}  // namespace ionet::ckpt
