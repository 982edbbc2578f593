#!/usr/bin/env bash
# libionet-coll.so exports exactly the MPI collectives it covers (a stray export could override
# another library's symbol in every rank) and resolves everything at link time.
set -euo pipefail
lib=$1
expected="MPI_Allgather MPI_Allreduce MPI_Barrier MPI_Bcast MPI_Reduce MPI_Reduce_scatter MPI_Reduce_scatter_block"
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" || $2 == "W" {print $3}' | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$exported" != "$expected" ]; then
  echo "exports: '$exported'"; echo "expected: '$expected'"; exit 1
fi
if ldd -r "$lib" 2>&1 | grep -q "undefined symbol"; then
  ldd -r "$lib"; exit 1
fi
echo "ok: $exported"
