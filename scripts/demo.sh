#!/bin/bash
# demo: the `make demo` showcase; runs the example programs under ionet-run on emulated hosts,
# and a checkpointing training job that loses a host and resumes on a spare.
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

step "checkpoint resume after a lost host" \
  "Training on node0 and node1 with node2 spare, each host checkpointing into its own directory
    (copied to its partner). node1's agent is killed with SIGKILL and its directory deleted: the
    job resumes on node0 and node2 from the last set, and ends with the same weights as a run
    that never failed."
CK=$(mktemp -d /tmp/ionet-demo-XXXXXX)
"$RUN" --local-hosts 2 -np 4 --checkpoint-dir "$CK/reference" "$EX/train" 200 20 >"$CK/reference.out" 2>&1
expected=$(grep -o 'final weights checksum [0-9a-f]*' "$CK/reference.out")
"$RUN" --local-hosts 3 --spare-hosts 1 -np 4 --checkpoint-dir "$CK/run" \
  --checkpoint-storage partner --max-restarts 2 --restart-delay 0 "$EX/train" 200 20 \
  >"$CK/run.out" 2>"$CK/run.err" &
job=$!
for _ in $(seq 600); do  # up to 60 s for node1's set of step 60 to reach its partner
  [ -e "$CK/run/host-node0/partner-node1/step-60/MANIFEST" ] && break
  sleep 0.1
done
agent=$(awk '{print $2}' "/proc/$job/task/$job/children" 2>/dev/null)
if [ -n "$agent" ]; then
  echo "kill -9 of node1's agent (pid $agent), rm -rf its directory"
  kill -9 "$agent"
  rm -rf "$CK/run/host-node1"
fi
wait "$job"
status=$?
grep -v '^step\|^checkpoint' "$CK/run.out"
cat "$CK/run.err"
got=$(grep -o 'final weights checksum [0-9a-f]*' "$CK/run.out")
echo "fault-free run: $expected"
if [ "$status" -ne 0 ] || [ -z "$agent" ] || [ "$got" != "$expected" ]; then
  echo "demo: FAILED: the resumed run did not end with the fault-free weights" >&2
  failed=1
fi
rm -rf "$CK"

echo
if [ "$failed" -ne 0 ]; then
  echo "demo: some steps FAILED" >&2
  exit 1
fi
echo "demo: all steps OK"
