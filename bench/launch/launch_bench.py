#!/usr/bin/python3
"""Launch-time benchmark: wall-clock of `ionet-run -np N PROG` against `mpirun -np N PROG`.

Runs of the two launchers are interleaved (alternating which goes first) so that background
load affects both alike. A run past --timeout is killed with its whole process group and
counted as a hang. Exit status: 1 if ionet-run ever hung or failed, else 0 (ratios above
target are a measurement, not a failure).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--sizes", default="1,8,64,256", help="comma-separated -np values")
    p.add_argument("--runs", type=int, default=5, help="runs per launcher and case (>= 1)")
    p.add_argument("--timeout", type=float, default=300.0, help="per-run limit in seconds")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    p.add_argument("--ionet-run", help="launcher to measure (default: BUILD/bin/ionet-run)")
    return p.parse_args()


def run_once(cmd, timeout):
    """Runs cmd with output discarded; returns (seconds, status, stderr tail).

    status is the exit code, or "hang" when it was killed at the timeout.
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        # A session of its own, so a hang is torn down with every process the launcher started.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = "hang"
        elapsed = time.monotonic() - t0
        # Also reaps stragglers left in the group, so they cannot slow the next run.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    return elapsed, status, tail


def summarize(samples):
    """Median/min/max over completed runs, plus how many hung or failed."""
    done = [s for s, status, _ in samples if status == 0]
    return {
        "times": [round(s, 4) for s, _, _ in samples],
        "statuses": [status for _, status, _ in samples],
        "completed": len(done),
        "hung": sum(1 for _, status, _ in samples if status == "hang"),
        "failed": sum(1 for _, status, _ in samples if status not in (0, "hang")),
        "median": statistics.median(done) if done else None,
        "min": min(done) if done else None,
        "max": max(done) if done else None,
    }


def bench_case(ionet, prog, np, runs, timeout):
    launchers = {"ionet-run": [ionet, "-np", str(np), prog],
                 "mpirun": MPIRUN + ["-np", str(np), prog]}
    samples = {name: [] for name in launchers}
    for i in range(runs):
        order = list(launchers) if i % 2 == 0 else list(reversed(launchers))
        for name in order:
            elapsed, status, tail = run_once(launchers[name], timeout)
            samples[name].append((elapsed, status, tail))
            if status != 0:
                what = ("HANG (killed)" if status == "hang" else
                        f"signal {-status}" if status < 0 else f"exit {status}")
                print(f"  {name} -np {np} {prog}: run {i + 1} {what} after {elapsed:.2f}s",
                      file=sys.stderr)
                if tail.strip():
                    print("    " + tail.strip().replace("\n", "\n    "), file=sys.stderr)
    return {name: summarize(s) for name, s in samples.items()}


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


def main():
    args = parse_args()
    ionet = args.ionet_run or os.path.join(args.build, "bin", "ionet-run")
    hello = os.path.join(args.build, "examples", "hello")
    for path in (ionet, hello):
        if not os.access(path, os.X_OK):
            sys.exit(f"launch_bench: {path} is missing or not executable (build first)")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    runs = max(1, args.runs)

    results = []
    for prog in ("/bin/true", hello):
        for np in sizes:
            print(f"measuring -np {np} {prog} ({runs} runs each) ...", file=sys.stderr, flush=True)
            r = bench_case(ionet, prog, np, runs, args.timeout)
            a, b = r["ionet-run"]["median"], r["mpirun"]["median"]
            ratio = a / b if a is not None and b else None
            results.append({"program": prog, "np": np, "ratio": ratio, **r})

    w = max(len("program"), *(len(r["program"]) for r in results))
    head = (f"{'program':<{w}} {'np':>4} {'ionet-run':>10} {'mpirun':>10} {'ratio':>7}"
            f" {'ionet min/max':>15} {'mpirun min/max':>15}  notes")
    print(head)
    print("-" * len(head))
    for r in results:
        i, m = r["ionet-run"], r["mpirun"]
        notes = []
        for name, s in (("ionet-run", i), ("mpirun", m)):
            if s["hung"]:
                notes.append(f"{name} HANG {s['hung']}/{runs}")
            if s["failed"]:
                notes.append(f"{name} failed {s['failed']}/{runs}")
        print(f"{r['program']:<{w}} {r['np']:>4} {fmt(i['median']):>10} {fmt(m['median']):>10}"
              f" {fmt(r['ratio']):>7} {fmt(i['min']) + '/' + fmt(i['max']):>15}"
              f" {fmt(m['min']) + '/' + fmt(m['max']):>15}  {', '.join(notes)}")

    rated = [r for r in results if r["ratio"] is not None]
    if rated:
        worst = max(rated, key=lambda r: r["ratio"])
        print(f"worst ratio ionet-run/mpirun: {worst['ratio']:.3f} "
              f"({worst['program']} -np {worst['np']}; target <= 1.0)")
    else:
        print("worst ratio ionet-run/mpirun: n/a (no case completed on both launchers)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "timeout_s": args.timeout, "results": results}, f, indent=2)

    bad = sum(r["ionet-run"]["hung"] + r["ionet-run"]["failed"] for r in results)
    if bad:
        print(f"ionet-run hung or failed in {bad} run(s)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
