#!/bin/bash
# The GPU check of the NCCL plugin (docs/nccl.md), for a bare single-GPU machine with CUDA and
# NCCL in /usr/local/cuda and the bundle of scripts/gpu-bundle.sh carried over (build-gpu/):
# examples/nccl_check on two emulated hosts sharing GPU 0 (each its own NCCL node through
# NCCL_HOSTID), AllReduce and Send/Recv from 0 B to 256 MiB with every result checked, once
# through ionet's plugin and once through NCCL's own sockets (--nccl-net socket, through the
# shim), with NCCL_DEBUG=INFO showing which network NCCL used. Under 5 minutes.
# Usage: scripts/gpu-check.sh [BUNDLE_DIR]     results and logs in $OUT (or /tmp/gpu-check)
set -uo pipefail
bundle=$(realpath "${1:-build-gpu}")
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
export LD_LIBRARY_PATH="$bundle/deps:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export PMIX_MCA_mca_base_component_path="$bundle/pmix"
fail=0
note() { echo "gpu-check: $*" | tee -a "$out/summary.txt"; }

nvidia-smi -L > "$out/gpus.txt" 2>&1 || { note "no GPU (nvidia-smi failed)"; exit 1; }
note "GPU: $(head -1 "$out/gpus.txt")"
[ -e /usr/local/cuda/lib64/libnccl.so.2 ] || note "no /usr/local/cuda/lib64/libnccl.so.2 here"

run() {  # NAME ARGS...: one job on two emulated hosts, one rank each, sharing GPU 0
  local name=$1
  shift
  local start=$SECONDS
  timeout 200 "$bundle/bin/ionet-run" --local-hosts 2 -np 2 -N 1 --coll mpi -x NCCL_DEBUG=INFO \
    -x NCCL_DEBUG_SUBSYS=INIT,NET "$@" "$bundle/examples/nccl_check" --max-bytes 268435456 \
    > "$out/$name.log" 2>&1
  local rc=$?
  note "$name: exit $rc in $((SECONDS - start)) s"
  for r in 0 1; do
    grep -q "nccl-check OK rank=$r ranks=2" "$out/$name.log" || { note "$name: rank $r not OK"; fail=1; }
  done
  return $rc
}

run ionet || fail=1
grep -E "NET/ionet|Using network ionet|NET/Plugin" "$out/ionet.log" | sort -u | head -8 \
  | tee -a "$out/summary.txt"
grep -q "Using network ionet" "$out/ionet.log" || { note "ionet: NCCL did not use the ionet network"; fail=1; }

run socket --nccl-net socket || fail=1
grep -E "Using network Socket" "$out/socket.log" | sort -u | head -2 | tee -a "$out/summary.txt"

note "bus bandwidth (GB/s), rank 0, ionet plugin vs NCCL sockets through the shim:"
join <(awk '$2=="allreduce"{print $1, $4}' "$out/ionet.log" | sort -k1,1) \
     <(awk '$2=="allreduce"{print $1, $4}' "$out/socket.log" | sort -k1,1) \
  | sort -n | awk '{printf "  allreduce %12s bytes  ionet %8s  socket %8s\n", $1, $2, $3}' \
  | tee -a "$out/summary.txt"
note "result: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
