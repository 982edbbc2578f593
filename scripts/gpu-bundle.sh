#!/bin/bash
# Packs what scripts/gpu-check.sh needs on a bare GPU machine (no Open MPI, PMIx or gtest there)
# into build-gpu/: ionet-run, ionet-agent, the shim, the NCCL plugin, examples/nccl_check and
# the Debian libraries they load, less the C runtime and CUDA/NCCL (the GPU machine has those).
# Usage: scripts/gpu-bundle.sh [BUILD_DIR [OUT_DIR]]   then carry OUT_DIR (default build-gpu) to
# the GPU machine. tests/nccl/gpu_bundle_test.sh checks that it runs with the system's copies of
# its libraries hidden.
set -euo pipefail
build=${1:-build}
out=${2:-build-gpu}
[ -x "$build/examples/nccl_check" ] || {
  echo "gpu-bundle: $build/examples/nccl_check is missing (CUDA and NCCL needed at build time)" >&2
  exit 1
}
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/examples" "$out/deps"
cp "$build/bin/ionet-run" "$build/bin/ionet-agent" "$out/bin/"
cp "$build/lib/libionet-shim.so" "$build/lib/libnccl-net-ionet.so" "$out/lib/"
cp "$build/examples/nccl_check" "$out/examples/"
skip='linux-vdso|ld-linux|/libc\.so|/libm\.so|/libdl\.so|/libpthread\.so|/librt\.so|libcuda|libnccl|libcudart'
for f in "$out"/bin/* "$out"/lib/*.so "$out"/examples/*; do
  ldd "$f" | awk '/=> \//{print $3}' | grep -Ev "$skip" || true
done | sort -u | while read -r lib; do cp -L "$lib" "$out/deps/"; done
# libpmix (in the agent) loads its few plugins from its install prefix: they come along, and
# gpu-check.sh points PMIx at them.
mkdir -p "$out/pmix"
cp /usr/lib/x86_64-linux-gnu/pmix2/lib/pmix/*.so "$out/pmix/" 2>/dev/null || true
# Debug information is most of ionet's binaries; the carry is limited (64 MiB).
strip --strip-unneeded "$out"/bin/* "$out"/lib/*.so "$out"/examples/* "$out"/deps/libionet-* \
  2>/dev/null || true
du -sh "$out"
