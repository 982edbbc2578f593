#!/usr/bin/python3
"""Launch time inside a real Slurm allocation: ionet-run against srun --mpi=pmix and mpirun.

Starts a single-machine Slurm (tests/slurm/slurm-cluster.sh: slurmd n1..n3 on this host), and
for each size takes an allocation of 3 nodes x K tasks and measures, in that allocation's
environment, the launch-to-exit wall-clock of the same program started three ways:
`ionet-run PROG` (no host arguments: the allocation's nodes, one srun step for its agents),
`srun --mpi=pmix PROG` (Slurm's own PMIx launch) and
`mpirun --allow-run-as-root --oversubscribe -np N PROG` (Open MPI's ras/plm slurm components).
Both Open MPI launches get OMPI_MCA_btl=self,tcp: on fake nodes that share one host, Open MPI's
shared-memory BTL collides across nodes (ionet-run gives each host its own vader directory).

Before timing, each launcher is checked once per case: ranks land K per node on n1..n3, and
examples/hello prints N "hello from rank" lines. Timed runs are interleaved (alternating order)
and a run past --timeout is killed with its process group. Exit status: 1 if ionet-run ever hung,
failed or misplaced ranks, else 0 (ratios above target are a measurement, not a failure); 0 with
a "skipped" line when this machine cannot run Slurm.
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch_bench import fmt, run_once, summarize  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(ROOT, "tests", "slurm", "slurm-cluster.sh")
NODES = 3
# Open MPI's own launches run over TCP and self only: see the header.
OMPI_TCP = ["OMPI_MCA_btl=self,tcp"]
TARGET = 1.2  # issue 19: ionet-run <= 1.2x srun --mpi=pmix
# Where a rank runs: ionet-run names the host in IONET_HOST, a Slurm task in SLURMD_NODENAME.
WHERE = ["bash", "-c", 'echo "where ${IONET_HOST:-$SLURMD_NODENAME}"']


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--tasks-per-node", default="2,16",
                   help="comma-separated tasks per node, one allocation of 3 nodes each")
    p.add_argument("--runs", type=int, default=15, help="timed runs per launcher and case (>= 1)")
    p.add_argument("--timeout", type=float, default=120.0, help="per-run limit in seconds")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    p.add_argument("--ionet-run", help="launcher to measure (default: BUILD/bin/ionet-run)")
    return p.parse_args()


def launchers(ionet, np):
    """Each launcher's command line for np ranks, without the program."""
    return {"ionet-run": [ionet],
            "srun-pmix": OMPI_TCP + ["srun", "--mpi=pmix"],
            "mpirun": OMPI_TCP + ["mpirun", "--allow-run-as-root", "--oversubscribe",
                                  "-np", str(np)]}


def allocate(tasks_per_node):
    """salloc --no-shell for NODES x tasks_per_node; returns (job id, the allocation's env)."""
    r = subprocess.run(["salloc", f"-N{NODES}", f"--ntasks-per-node={tasks_per_node}",
                        "--no-shell"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    m = re.search(r"Granted job allocation (\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"salloc failed: {r.stderr.strip()}")
    job = m.group(1)
    nodelist = subprocess.run(["squeue", "-h", "-j", job, "-o", "%N"], capture_output=True,
                              text=True, timeout=30).stdout.strip()
    n = NODES * tasks_per_node
    # What salloc exports to its command (checked against `salloc ... env`).
    env = {"SLURM_JOB_ID": job, "SLURM_JOBID": job, "SLURM_JOB_NODELIST": nodelist,
           "SLURM_NODELIST": nodelist, "SLURM_JOB_NUM_NODES": NODES, "SLURM_NNODES": NODES,
           "SLURM_NTASKS": n, "SLURM_NPROCS": n, "SLURM_NTASKS_PER_NODE": tasks_per_node,
           "SLURM_TASKS_PER_NODE": f"{tasks_per_node}(x{NODES})",
           "SLURM_JOB_CPUS_PER_NODE": f"{tasks_per_node}(x{NODES})"}
    return job, [f"{k}={v}" for k, v in env.items()]


def run_output(cmd, timeout):
    """Runs cmd in a session of its own, killed at the timeout; returns (status, stdout, stderr)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        status = "hang"
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if status == "hang":
        out, err = proc.communicate()
    return status, out, err


def check_placement(cmd, tasks_per_node, timeout):
    """Untimed: do the launcher's ranks land tasks_per_node on each of n1..nNODES? A problem in
    words, or None."""
    status, out, err = run_output(cmd + WHERE, timeout)
    where = dict(collections.Counter(re.findall(r"^where (\S*)$", out, re.M)))
    want = {f"n{i}": tasks_per_node for i in range(1, NODES + 1)}
    if status != 0 or where != want:
        return f"ranks per node {where} (want {want}), status {status}: {err.strip()[-300:]}"
    return None


def check_program(cmd, prog, np, timeout):
    """Untimed: does prog exit 0 (and hello print np hello lines)? A problem in words, or None."""
    status, out, err = run_output(cmd + [prog], timeout)
    hellos = len(re.findall(r"^hello from rank \d+ of " + str(np) + r"\b", out, re.M))
    if status != 0 or (prog.endswith("hello") and hellos != np):
        return f"{hellos} of {np} hello lines, status {status}: {err.strip()[-300:]}"
    return None


def measure(cmds, prog, runs, timeout):
    """Interleaved timed runs of every launcher; per launcher the samples of run_once."""
    samples = {name: [] for name in cmds}
    for i in range(runs):
        order = list(cmds) if i % 2 == 0 else list(reversed(cmds))
        for name in order:
            elapsed, status, tail = run_once(cmds[name] + [prog], timeout)
            samples[name].append((elapsed, status, tail))
            if status != 0:
                print(f"  {name} {prog}: run {i + 1} status {status} after {elapsed:.2f}s",
                      file=sys.stderr)
                if tail.strip():
                    print("    " + tail.strip().replace("\n", "\n    "), file=sys.stderr)
    return samples


def bench_allocation(ionet, progs, tasks_per_node, runs, timeout):
    """Both programs in one fresh allocation of NODES x tasks_per_node; its result rows."""
    np = NODES * tasks_per_node
    job, env = allocate(tasks_per_node)
    try:
        cmds = {name: ["env"] + env + cmd for name, cmd in launchers(ionet, np).items()}
        placed = {name: check_placement(cmd, tasks_per_node, timeout)
                  for name, cmd in cmds.items()}
        for name, why in placed.items():
            if why:
                print(f"  {name}: placement check FAILED: {why}", file=sys.stderr)
        rows = []
        for prog in progs:
            print(f"measuring {NODES}x{tasks_per_node} = {np} ranks of {prog} in job {job} "
                  f"({runs} runs each) ...", file=sys.stderr, flush=True)
            problems = {name: placed[name] or check_program(cmd, prog, np, timeout)
                        for name, cmd in cmds.items()}
            for name, why in problems.items():
                if why and not placed[name]:
                    print(f"  {name} {prog}: check FAILED: {why}", file=sys.stderr)
            samples = measure(cmds, prog, runs, timeout)
            rows.append({"program": prog, "np": np, "tasks_per_node": tasks_per_node,
                         "job": job, "problems": problems,
                         **{name: summarize(s) for name, s in samples.items()}})
        return rows
    finally:
        subprocess.run(["scancel", job], timeout=30)


def ratio(row, a, b):
    x, y = row[a]["median"], row[b]["median"]
    return x / y if x is not None and y else None


def print_table(rows, runs):
    w = max(len("program"), *(len(r["program"]) for r in rows))
    head = (f"{'program':<{w}} {'np':>3} {'ionet-run':>9} {'srun-pmix':>9} {'mpirun':>9}"
            f" {'ionet/srun':>10} {'ionet/mpirun':>12}  notes")
    print(head)
    print("-" * len(head))
    for r in rows:
        notes = [f"{n} check failed" for n, why in r["problems"].items() if why]
        for name in ("ionet-run", "srun-pmix", "mpirun"):
            s = r[name]
            if s["hung"] or s["failed"]:
                notes.append(f"{name} hung {s['hung']}, failed {s['failed']} of {runs}")
        print(f"{r['program']:<{w}} {r['np']:>3} {fmt(r['ionet-run']['median']):>9}"
              f" {fmt(r['srun-pmix']['median']):>9} {fmt(r['mpirun']['median']):>9}"
              f" {fmt(ratio(r, 'ionet-run', 'srun-pmix')):>10}"
              f" {fmt(ratio(r, 'ionet-run', 'mpirun')):>12}  {', '.join(notes)}")
    rated = [r for r in rows if ratio(r, "ionet-run", "srun-pmix") is not None]
    if rated:
        worst = max(rated, key=lambda r: ratio(r, "ionet-run", "srun-pmix"))
        print(f"worst ratio ionet-run/srun --mpi=pmix: {ratio(worst, 'ionet-run', 'srun-pmix'):.3f}"
              f" ({worst['program']} -np {worst['np']}; target <= {TARGET})")
    else:
        print("worst ratio ionet-run/srun --mpi=pmix: n/a (no case completed on both launchers)")
    print("medians of completed runs, seconds; srun-pmix and mpirun ran with "
          "OMPI_MCA_btl=self,tcp (fake nodes share one host)")


def start_cluster(state):
    """Starts the Slurm of tests/slurm under state; its SLURM_CONF goes into os.environ."""
    for name in list(os.environ):
        if name.startswith("SLURM_"):  # when run inside another allocation
            del os.environ[name]
    os.environ["SLURM_CONF"] = os.path.join(state, "slurm.conf")
    subprocess.run(["bash", CLUSTER, "start", state, str(NODES), "16"], check=True, timeout=120)


def cannot_run_slurm():
    """Why this machine cannot run the bench's Slurm, or None."""
    if os.geteuid() != 0:
        return "needs root (slurmd runs jobs as their users)"
    missing = [c for c in ("munged", "slurmctld", "slurmd", "salloc", "srun", "mpirun")
               if not shutil.which(c)]
    return f"{', '.join(missing)} not found" if missing else None


def main():
    args = parse_args()
    ionet = os.path.abspath(args.ionet_run or os.path.join(args.build, "bin", "ionet-run"))
    hello = os.path.join(args.build, "examples", "hello")
    for path in (ionet, hello):
        if not os.access(path, os.X_OK):
            sys.exit(f"slurm_launch_bench: {path} is missing or not executable (build first)")
    why = cannot_run_slurm()
    if why:
        print(f"slurm_launch_bench: skipped: {why}")
        return 0
    sizes = [int(s) for s in args.tasks_per_node.split(",") if s]
    runs = max(1, args.runs)

    # SIGTERM unwinds like Ctrl-C, through the finally that stops the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    state = tempfile.mkdtemp(prefix="slurm-launch-bench-")
    rows = []
    try:
        start_cluster(state)
        for k in sizes:
            rows += bench_allocation(ionet, ("/bin/true", hello), k, runs, args.timeout)
    except KeyboardInterrupt:
        print("slurm_launch_bench: interrupted; stopping the cluster", file=sys.stderr)
        return 130
    finally:
        subprocess.run(["bash", CLUSTER, "stop", state], timeout=120)
        shutil.rmtree(state, ignore_errors=True)

    print_table(rows, runs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "timeout_s": args.timeout, "nodes": NODES,
                       "ompi_btl": "self,tcp", "results": rows}, f, indent=2)
    bad = sum(r["ionet-run"]["hung"] + r["ionet-run"]["failed"] + bool(r["problems"]["ionet-run"])
              for r in rows)
    if bad:
        print(f"ionet-run hung, failed or misplaced ranks in {bad} run(s) or check(s)",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
