#!/usr/bin/env python3
"""bench/batch: the embedded queue's latency and the cost of its history.

1. Submit-to-start on an idle pool: the time from running `ionet-batch job.sh` to the first
   line of the job script, median of --runs, beside the same script started directly
   (fork/exec of bash) in the same run.
2. `ionet-queue` (and `ionet-queue -t all`, `ionet-acct -j ID`) with 10,000 jobs in the
   history, against the same commands on an empty queue, measured in the same run.

Usage: bench/batch/batch_bench.py [--build build] [--runs 20] [--history 10000]
"""
import argparse
import fcntl
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def median_seconds(fn, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), min(samples), max(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--history", type=int, default=10000)
    args = parser.parse_args()
    bin_dir = os.path.abspath(os.path.join(args.build, "bin"))
    work = tempfile.mkdtemp(prefix="batch-bench-")
    env = dict(os.environ, IONET_QUEUE_DIR=os.path.join(work, "queue"), IONET_QUEUE_IDLE_EXIT="2",
               IONET_QUEUE_CORES="1")

    def cmd(*argv, **kw):
        return subprocess.run([os.path.join(bin_dir, argv[0])] + list(argv[1:]), cwd=work, env=env,
                              capture_output=True, text=True, check=True, **kw)

    try:
        script = os.path.join(work, "stamp.sh")
        with open(script, "w") as f:
            f.write("#!/bin/bash\ndate +%s.%N > \"$1\"\n")
        os.chmod(script, 0o755)

        def wait_for(path):
            while not os.path.exists(path) or os.path.getsize(path) == 0:
                time.sleep(0.001)
            with open(path) as f:
                return float(f.read())

        # 1. Submit-to-start, the daemon already up (an idle pool, not a cold one).
        cmd("ionet-queue")
        queued, direct = [], []
        for i in range(args.runs):
            stamp = os.path.join(work, f"q{i}")
            t0 = time.time()
            cmd("ionet-batch", "-o", "/dev/null", script, stamp)
            queued.append(wait_for(stamp) - t0)
            stamp = os.path.join(work, f"d{i}")
            t0 = time.time()
            subprocess.run([script, stamp], check=True)
            direct.append(wait_for(stamp) - t0)
        q, d = statistics.median(queued), statistics.median(direct)
        print(f"submit-to-start on an idle pool: median {q * 1000:.1f} ms "
              f"(min {min(queued) * 1000:.1f}, max {max(queued) * 1000:.1f}, {args.runs} runs); "
              f"bash started directly {d * 1000:.1f} ms; ratio {q / d:.1f}")

        # 2. ionet-queue with a long history: an array held back by a running job, cancelled.
        empty_q = median_seconds(lambda: cmd("ionet-queue"), 10)[0]
        empty_acct = median_seconds(lambda: cmd("ionet-acct", "-j", "1"), 10)[0]
        with open(os.path.join(work, "hold.sh"), "w") as f:
            f.write("#!/bin/bash\nwhile [ ! -e release ]; do sleep 0.1; done\n")
        hold = cmd("ionet-batch", "--parsable", "-o", "/dev/null", "hold.sh").stdout.strip()
        t0 = time.perf_counter()
        array = cmd("ionet-batch", "--parsable", "-o", "/dev/null",
                    f"--array=0-{args.history - 1}", script, "/dev/null").stdout.strip()
        submit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cmd("ionet-cancel", array)
        cancel_s = time.perf_counter() - t0
        states = cmd("ionet-acct", "-j", array, "-o", "State", "-n", "-P").stdout.split()
        if len(states) != args.history or set(states) != {"CANCELLED"}:
            raise SystemExit(f"batch_bench: expected {args.history} CANCELLED tasks, got "
                             f"{len(states)}: {sorted(set(states))}")
        full_q, lo, hi = median_seconds(lambda: cmd("ionet-queue"), 10)
        full_all = median_seconds(lambda: cmd("ionet-queue", "-t", "all"), 5)[0]
        full_acct = median_seconds(lambda: cmd("ionet-acct", "-j", hold), 10)[0]
        open(os.path.join(work, "release"), "w").close()
        print(f"{args.history} jobs in the history (one --array submit {submit_s:.2f} s, "
              f"cancelled in {cancel_s:.2f} s):")
        print(f"  ionet-queue          median {full_q * 1000:.1f} ms (min {lo * 1000:.1f}, "
              f"max {hi * 1000:.1f}); empty queue {empty_q * 1000:.1f} ms; ratio "
              f"{full_q / empty_q:.2f}")
        print(f"  ionet-queue -t all   median {full_all * 1000:.1f} ms ({args.history + 1} lines)")
        print(f"  ionet-acct -j ID     median {full_acct * 1000:.1f} ms; empty queue "
              f"{empty_acct * 1000:.1f} ms; ratio {full_acct / empty_acct:.2f}")
    finally:
        open(os.path.join(work, "release"), "w").close()
        subprocess.run([os.path.join(bin_dir, "ionet-cancel"), "-u", os.environ.get("USER", "root")],
                       cwd=work, env=env, capture_output=True)
        # The daemon leaves by itself once idle (IONET_QUEUE_IDLE_EXIT); wait for it (its lock
        # is free) before the directory goes.
        lock_path = os.path.join(work, "queue", "daemon.lock")
        deadline = time.time() + 60
        while os.path.exists(lock_path) and time.time() < deadline:
            with open(lock_path) as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.1)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
