#!/usr/bin/env bash
# ASan+UBSan build of ionet's C++ programs, and the integration tests (ctest label
# "integration") run against it: a daemon that touches freed memory, overflows a buffer or
# hits undefined behaviour aborts with a report, and the tests' crash watch fails the test that
# saw it, printing the report. Part of `make bench` (a second build does not fit make test's
# 20 minutes on 2 cores); `make sanitize` runs it alone.
#   scripts/sanitize.sh [BUILD_DIR] [ctest arguments...]   (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIONET_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
logs=$(realpath "$build")/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# Leaks are not crashes (libpmix keeps what it allocates until exit): only errors count.
# abort_on_error: a report ends the process with SIGABRT, which the crash watch also sees.
# verify_asan_link_order=0: inside a job, ionet-ckpt (instrumented) runs with the data path's
# shim preloaded ahead of the ASan runtime, which ASan refuses by default; the shim's wrappers
# reach the runtime's through RTLD_NEXT, so the order is harmless.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:verify_asan_link_order=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$logs/ubsan"
export IONET_SANITIZER_LOG_DIR=$logs
cd "$build"
status=0
ctest -L integration --output-on-failure --timeout 900 "$@" || status=$?
reports=$(find "$logs" -type f | wc -l)
echo "sanitize: $reports sanitizer report(s) in $logs"
exit $status
