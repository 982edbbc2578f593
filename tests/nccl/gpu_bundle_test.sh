#!/bin/bash
# scripts/gpu-bundle.sh's bundle is what a bare GPU machine needs: with the system's copies of
# every library it carries hidden (bind mounts in a private mount namespace) and PMIx's and
# Open MPI's directories emptied, ionet-run from the bundle runs a two-host NCCL-plugin job.
# Skipped (77) where the build has no examples/nccl_check (no CUDA) or mount namespaces fail.
# Usage: gpu_bundle_test.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
[ -x "$build/examples/nccl_check" ] || { echo "SKIP: no examples/nccl_check (no CUDA)"; exit 77; }
out=$build/gpu-bundle-test
"$src/scripts/gpu-bundle.sh" "$build" "$out" || { echo "FAIL: gpu-bundle.sh"; exit 1; }
size=$(du -sm "$out" | cut -f1)
[ "$size" -le 64 ] || { echo "FAIL: the bundle is $size MiB (the carry holds 64)"; exit 1; }
empty=$(mktemp -d)
trap 'rm -rf "$empty" "$out"' EXIT
unshare -m true 2>/dev/null || { echo "SKIP: no mount namespaces here"; exit 77; }
unshare -m bash -c '
  set -u
  out=$1 empty=$2 harness=$3
  for f in "$out"/deps/*; do
    n=$(basename "$f")
    for sys in /usr/lib/x86_64-linux-gnu/$n /lib/x86_64-linux-gnu/$n; do
      if [ -e "$sys" ]; then mount --bind /dev/null "$sys" || exit 1; fi
    done
  done
  for d in /usr/lib/x86_64-linux-gnu/pmix2 /usr/lib/x86_64-linux-gnu/openmpi; do
    if [ -d "$d" ]; then mount --bind "$empty" "$d" || exit 1; fi
  done
  export LD_LIBRARY_PATH=$out/deps PMIX_MCA_mca_base_component_path=$out/pmix
  # --coll mpi: an NCCL job; the bundle carries no MPI for libionet-coll to interpose on.
  cd "$empty" && "$out/bin/ionet-run" --local-hosts 2 -np 2 -N 1 --coll mpi "$harness"
' bundle "$out" "$empty" "$build/tests/nccl_net_harness" > "$empty/log" 2>&1
rc=$?
for r in 0 1; do
  grep -q "nccl-net-harness OK rank=$r" "$empty/log" || { echo "FAIL (rc $rc):"; cat "$empty/log"; exit 1; }
done
echo "OK: the bundle ($size MiB) runs a two-host job with the system's copies hidden"
