#!/bin/bash
# demo: the `make demo` showcase; runs the example programs under ionet-run on two emulated hosts.
# Usage: scripts/demo.sh BUILD_DIR
set -u

BUILD=${1:?usage: demo.sh BUILD_DIR}
RUN="$BUILD/bin/ionet-run"
EX="$BUILD/examples"
HOSTS=(--local-hosts 2 -np 4)
failed=0

if [ ! -x "$RUN" ]; then
  echo "demo: $RUN not found; build first (make build)" >&2
  exit 1
fi

step() {
  printf '\n=== %s\n--- %s\n' "$1" "$2"
}

# Runs one step that must succeed; a failure is remembered and the demo goes on.
expect_ok() {
  "$@"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "demo: FAILED (exit status $rc): $*" >&2
    failed=1
  fi
}

step "hello, tagged output" \
  "4 ranks on 2 emulated hosts, each host with its own PMIx server; output tagged by rank."
expect_ok "$RUN" "${HOSTS[@]}" --tag-output "$EX/hello"

step "allreduce of 1M doubles" \
  "MPI_Init's fences across both hosts are completed by ionet-run, then a checked MPI_Allreduce."
expect_ok "$RUN" "${HOSTS[@]}" "$EX/allreduce"

step "ring" \
  "Point-to-point messages pass a token through every rank across both hosts and back."
expect_ok "$RUN" "${HOSTS[@]}" "$EX/ring"

step "MPI_Abort" \
  "The last rank calls MPI_Abort(7) while the others block: the job is torn down, status 7."
"$RUN" "${HOSTS[@]}" "$EX/abort"
status=$?
echo "exit status: $status"
if [ "$status" -ne 7 ]; then
  echo "demo: FAILED: expected exit status 7 from MPI_Abort" >&2
  failed=1
fi

step "mpi4py" \
  "A Python MPI program (mpi4py) launches the same way: hello and a checked allreduce."
expect_ok "$RUN" "${HOSTS[@]}" /usr/bin/python3 "$EX/hello_mpi4py.py"

echo
if [ "$failed" -ne 0 ]; then
  echo "demo: some steps FAILED" >&2
  exit 1
fi
echo "demo: all steps OK"
