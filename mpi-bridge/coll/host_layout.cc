#include "host_layout.h"

#include <algorithm>
#include <memory>
#include <mutex>

namespace ionet::coll {
namespace {

int deleteLayout(MPI_Comm comm, int, void* value, void*) {
  auto* layout = static_cast<HostLayout*>(value);
  // MPI_COMM_WORLD's attributes go in MPI_Finalize, when freeing communicators is no longer
  // safe; MPI_Finalize frees them itself.
  if (comm != MPI_COMM_WORLD && comm != MPI_COMM_SELF) {
    if (layout->leaders != MPI_COMM_NULL) PMPI_Comm_free(&layout->leaders);
    if (layout->local != MPI_COMM_NULL) PMPI_Comm_free(&layout->local);
  }
  delete layout;
  return MPI_SUCCESS;
}

int layoutKey() {
  static int key = MPI_KEYVAL_INVALID;
  static std::once_flag once;
  // A duplicated communicator builds its own layout (MPI_COMM_NULL_COPY_FN): its ranks are the
  // same but MPI_Comm_dup gives no place to run collectives on the new one.
  std::call_once(
      once, [] { PMPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, deleteLayout, &key, nullptr); });
  return key;
}

HostLayout* buildLayout(MPI_Comm comm) {
  auto layout = std::make_unique<HostLayout>();
  PMPI_Comm_rank(comm, &layout->rank);
  PMPI_Comm_size(comm, &layout->size);
  PMPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, layout->rank, MPI_INFO_NULL, &layout->local);
  PMPI_Comm_rank(layout->local, &layout->localRank);
  int localSize = 0;
  PMPI_Comm_size(layout->local, &localSize);
  if (localSize == layout->size) return layout.release();  // one host: hostCount stays 1

  PMPI_Comm_split(comm, layout->leader() ? 0 : MPI_UNDEFINED, layout->rank, &layout->leaders);
  // The leaders learn every host's ranks; the other ranks get the map from their leader.
  std::vector<int> localRanks(static_cast<std::size_t>(localSize));
  MPI_Group commGroup, localGroup;
  PMPI_Comm_group(comm, &commGroup);
  PMPI_Comm_group(layout->local, &localGroup);
  std::vector<int> indices(localRanks.size());
  for (int i = 0; i < localSize; ++i) indices[static_cast<std::size_t>(i)] = i;
  PMPI_Group_translate_ranks(localGroup, localSize, indices.data(), commGroup, localRanks.data());
  PMPI_Group_free(&localGroup);
  PMPI_Group_free(&commGroup);

  int hostCount = 0;
  if (layout->leader()) PMPI_Comm_size(layout->leaders, &hostCount);
  PMPI_Bcast(&hostCount, 1, MPI_INT, 0, layout->local);
  std::vector<int> counts(static_cast<std::size_t>(hostCount));
  if (layout->leader()) {
    PMPI_Allgather(&localSize, 1, MPI_INT, counts.data(), 1, MPI_INT, layout->leaders);
  }
  PMPI_Bcast(counts.data(), hostCount, MPI_INT, 0, layout->local);
  std::vector<int> displs(counts.size());
  for (std::size_t h = 1; h < counts.size(); ++h) displs[h] = displs[h - 1] + counts[h - 1];
  std::vector<int> all(static_cast<std::size_t>(layout->size));
  if (layout->leader()) {
    PMPI_Allgatherv(localRanks.data(), localSize, MPI_INT, all.data(), counts.data(), displs.data(),
                    MPI_INT, layout->leaders);
  }
  PMPI_Bcast(all.data(), layout->size, MPI_INT, 0, layout->local);

  layout->hostCount = hostCount;
  layout->hostOf.assign(all.size(), 0);
  layout->ranksOf.resize(counts.size());
  for (std::size_t h = 0; h < counts.size(); ++h) {
    for (int i = 0; i < counts[h]; ++i) {
      const int r = all[static_cast<std::size_t>(displs[h] + i)];
      layout->hostOf[static_cast<std::size_t>(r)] = static_cast<int>(h);
      layout->ranksOf[h].push_back(r);
    }
    std::sort(layout->ranksOf[h].begin(), layout->ranksOf[h].end());
  }
  layout->host = layout->hostOf[static_cast<std::size_t>(layout->rank)];
  return layout.release();
}

}  // namespace

int HostLayout::localRankOf(int r) const {
  const auto& ranks = ranksOf[static_cast<std::size_t>(hostOf[static_cast<std::size_t>(r)])];
  return static_cast<int>(std::lower_bound(ranks.begin(), ranks.end(), r) - ranks.begin());
}

const HostLayout* hostLayout(MPI_Comm comm) {
  int initialized = 0, finalized = 0, inter = 0;
  PMPI_Initialized(&initialized);
  PMPI_Finalized(&finalized);
  if (!initialized || finalized || comm == MPI_COMM_NULL) return nullptr;
  if (PMPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS || inter) return nullptr;
  const int key = layoutKey();
  void* value = nullptr;
  int found = 0;
  PMPI_Comm_get_attr(comm, key, &value, &found);
  if (found) return static_cast<HostLayout*>(value);
  HostLayout* layout = buildLayout(comm);
  PMPI_Comm_set_attr(comm, key, layout);
  return layout;
}

}  // namespace ionet::coll
