#!/bin/bash
# libnccl-net-ionet.so exports NCCL's four plugin tables and nothing else, needs neither CUDA nor
# NCCL, and runs nothing when loaded (its only init_array entry is the toolchain's frame_dummy).
set -u
plugin=$1
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$plugin" ] || fail "no plugin at $plugin"
exported=$(nm -D --defined-only "$plugin" | awk '{print $3}' | sort | tr '\n' ' ')
[ "$exported" = "ncclNetPlugin_v10 ncclNetPlugin_v11 ncclNetPlugin_v8 ncclNetPlugin_v9 " ] ||
  fail "exports: $exported"
libs=$(ldd "$plugin") || fail "ldd failed"
if echo "$libs" | grep -Eiq 'cuda|nccl|ionet|asio|ssl|protobuf'; then
  fail "links more than libc and the C++ runtime: $libs"
fi
echo "$libs" | grep -q 'not found' && fail "unresolved libraries: $libs"
# .init_array: 8 bytes per entry; crtbegin's frame_dummy is the one allowed.
hex=$(readelf -SW "$plugin" | awk '$2==".init_array"{print $6}')
size=$((16#${hex:-0}))
[ "${size:-0}" -le 8 ] || fail ".init_array has $((size / 8)) entries: the plugin runs code at load"
echo "OK: $exported"
