#!/usr/bin/env bash
# The frame-decoder fuzz target, longer than in `make test` (10 s there): default 10 minutes.
# Usage: bench/wan/fuzz.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-600}
fuzz=$build/tests/frame_fuzz
[ -x "$fuzz" ] || { echo "fuzz.sh: $fuzz not built (needs clang++)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seeds=$(dirname "$0")/../../tests/wan/fuzz-corpus
echo "fuzzing the WAN frame decoder for $seconds s"
"$fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$work" "$seeds" 2>&1 |
  grep -E '^(#|stat::|==|SUMMARY|Done)' | tail -12
