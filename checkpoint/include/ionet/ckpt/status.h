// Status codes and the exception of libionet-ckpt; the C API turns an Error into its status and
// its one-line message.
#pragma once

#include <ionet/error.h>

#include <string>

namespace ionet::ckpt {

// Same values as ionet_ckpt_status in ionet_ckpt.h.
enum class Status : int {
  kOk = 0,
  kInvalidArgument = 1,
  kBadState = 2,
  kIo = 3,
  kNoSpace = 4,
  kNotFound = 5,
  kCorrupt = 6,
  kMismatch = 7,
  kMpi = 8,
  kInternal = 9,
};

const char* statusName(Status s);

// what() is one line: the file (or dataset, or rank) and what is wrong with it.
class Error : public ionet::Error {
 public:
  Error(Status status, const std::string& message) : ionet::Error(message), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

// kNoSpace for ENOSPC/EDQUOT, kIo otherwise; message "<what>: <strerror(err)>".
[[noreturn]] void throwErrno(int err, const std::string& what);

}  // namespace ionet::ckpt
