// Comm over MPI and over a single rank.
#include "ionet/ckpt/comm.h"

#include <cstdint>

#include "ionet/ckpt/status.h"

namespace ionet::ckpt {
namespace {

class SoloComm : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int firstFailed(bool ok) override { return ok ? -1 : 0; }
  std::string broadcast(const std::string& bytes, int) override { return bytes; }
  std::vector<std::string> gather(const std::string& bytes, int) override { return {bytes}; }
};

class MpiComm : public Comm {
 public:
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  int firstFailed(bool ok) override {
    live();
    int mine = ok ? size_ : rank_, lowest = size_;
    check(MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
    return lowest == size_ ? -1 : lowest;
  }

  std::string broadcast(const std::string& bytes, int root) override {
    live();
    std::uint64_t n = bytes.size();
    check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_), "MPI_Bcast");
    std::string out = rank_ == root ? bytes : std::string(n, '\0');
    if (n > 0)
      check(MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, root, comm_), "MPI_Bcast");
    return out;
  }

  std::vector<std::string> gather(const std::string& bytes, int root) override {
    live();
    int n = static_cast<int>(bytes.size());
    std::vector<int> counts(rank_ == root ? size_ : 0), offsets(counts.size());
    check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_), "MPI_Gather");
    std::string all;
    if (rank_ == root) {
      int total = 0;
      for (int r = 0; r < size_; ++r) offsets[r] = total, total += counts[r];
      all.resize(total);
    }
    check(MPI_Gatherv(bytes.data(), n, MPI_CHAR, all.data(), counts.data(), offsets.data(),
                      MPI_CHAR, root, comm_),
          "MPI_Gatherv");
    std::vector<std::string> out;
    for (int r = 0; r < static_cast<int>(counts.size()); ++r)
      out.push_back(all.substr(offsets[r], counts[r]));
    return out;
  }

 private:
  void check(int rc, const char* call) const {
    if (rc != MPI_SUCCESS) {
      char text[MPI_MAX_ERROR_STRING];
      int len = 0;
      MPI_Error_string(rc, text, &len);
      throw Error(Status::kMpi, std::string(call) + " failed: " + std::string(text, len));
    }
  }
  // A collective after MPI_Finalize would abort the program; fail the call instead.
  void live() const {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) throw Error(Status::kMpi, "MPI was finalized before this checkpoint call");
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::shared_ptr<Comm> soloComm() { return std::make_shared<SoloComm>(); }

std::shared_ptr<Comm> mpiComm(MPI_Comm comm) { return std::make_shared<MpiComm>(comm); }

std::shared_ptr<Comm> defaultComm() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) return mpiComm(MPI_COMM_WORLD);
  return soloComm();
}

}  // namespace ionet::ckpt
