#!/usr/bin/python3
"""Checkpoint benchmark: write bandwidth of a checkpoint set against dd to the same directory,
verify throughput, and the time from kill -9 of an agent to the resumed job's first step.

1. write: ckpt_write_bench (2 ranks under ionet-run, each writing one dataset) timed from
   begin to a returned commit, so fsyncs, checksums, MANIFEST and rename are inside the time;
   against `dd conv=fsync` of the same number of bytes into the same directory. Runs are
   interleaved (which goes first alternates); dd runs one writer per rank, like the set.
   Target ratio >= 0.8.
2. verify: `ionet-ckpt verify SET` on the set just written (page cache warm: what a restart
   right after a failure sees), and after dropping the page cache where the kernel lets us
   (target >= 1 GB/s).
3. recovery: examples/train on 2 emulated hosts and a spare, --max-restarts 1 --restart-delay 0; kill -9
   of host node1's agent right after a checkpoint; the time until the resumed run prints its
   first step (target <= 5 s). Once with a shared directory, once with partner storage (node1's
   directory deleted with it; the spare fetches its ranks' files from node0 first).
Exit status 1 when a run failed; figures that miss a target are a measurement, not a failure.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--dir", help="directory to write in (default: BUILD/bench-checkpoint)")
    p.add_argument("--mib", type=int, default=256, help="MiB per rank and set (default 256)")
    p.add_argument("--runs", type=int, default=5, help="runs of each measurement (default 5)")
    p.add_argument("--dim", type=int, default=1 << 20,
                   help="weights of the training job in the recovery runs (default 1Mi doubles: "
                        "8 MiB per rank file)")
    return p.parse_args()


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"checkpoint_bench: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-2000:]}")
    return r


def drop_caches():
    """True when the page cache could be dropped (root, and the kernel allows it here)."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def write_sets(args, run_dir):
    """ckpt_write_bench: 2 ranks, 2 sets; (bytes, seconds) of the second (the first also
    creates the directory)."""
    out = run([args.ionet_run, "-np", "2", args.writer, run_dir, str(args.mib), "2"]).stdout
    sets = [(int(b), float(s)) for b, s in re.findall(r"bytes (\d+) seconds (\S+)", out)]
    if len(sets) != 2:
        sys.exit(f"checkpoint_bench: ckpt_write_bench printed {out!r}")
    return sets[1]


def write_dd(args, run_dir):
    """The baseline with the same parallelism: one dd per rank, each writing a rank's bytes;
    (bytes, seconds)."""
    count = (args.mib << 20) // (8 << 20)
    files = [os.path.join(run_dir, f"dd-{r}.bin") for r in range(2)]
    t0 = time.monotonic()
    dds = [subprocess.Popen(["dd", "if=/dev/zero", f"of={f}", "bs=8M", f"count={count}",
                             "conv=fsync"], stderr=subprocess.DEVNULL) for f in files]
    if any(p.wait() != 0 for p in dds):
        sys.exit("checkpoint_bench: dd failed")
    seconds = time.monotonic() - t0
    for f in files:
        os.unlink(f)
    return 2 * count * (8 << 20), seconds


def measure_write(args, run_dir, dd_first):
    """One checkpoint write and one dd of the same bytes, in the order given; GB/s of each."""
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    if dd_first:
        dd_bytes, dd_seconds = write_dd(args, run_dir)
        total, seconds = write_sets(args, run_dir)
    else:
        total, seconds = write_sets(args, run_dir)
        dd_bytes, dd_seconds = write_dd(args, run_dir)
    return total / seconds / 1e9, dd_bytes / dd_seconds / 1e9, total


def measure_verify(args, set_dir, total, cold):
    if cold and not drop_caches():
        return None
    t0 = time.monotonic()
    out = run([args.ckpt_tool, "verify", set_dir]).stdout
    seconds = time.monotonic() - t0
    if not out.rstrip().endswith(": ok"):
        sys.exit(f"checkpoint_bench: verify said {out!r}")
    return total / seconds / 1e9


def measure_recovery(args, run_dir, storage):
    """Seconds from kill -9 of node1's agent to the resumed run's first step line (node2 is
    the spare that takes node1's ranks; with partner storage it first fetches their files from
    node0, and node1's directory is deleted with the kill)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [args.ionet_run, "--local-hosts", "3", "--spare-hosts", "1", "-np", "4",
           "--checkpoint-storage", storage, "--checkpoint-dir", run_dir,
           "--max-restarts", "1", "--restart-delay", "0", args.train, "100000", "20",
           str(args.dim)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    killed_at = None
    resumed = False
    seen_40 = False
    try:
        for line in proc.stdout:
            # Kill at the first line after step 40 was committed (and, with partner storage,
            # after node1's copy of it reached node0).
            seen_40 = seen_40 or line.startswith("checkpoint step 40")
            partner_copy = os.path.join(run_dir, "host-node0", "partner-node1", "step-40")
            if killed_at is None and seen_40 and (
                    storage == "shared" or os.path.isdir(partner_copy)):
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    agents = [int(p) for p in f.read().split()]
                killed_at = time.monotonic()
                os.kill(agents[-1], signal.SIGKILL)
                if storage == "partner":
                    shutil.rmtree(os.path.join(run_dir, "host-node1"), ignore_errors=True)
            elif killed_at is not None and line.startswith("resumed from step"):
                resumed = True
            elif resumed and line.startswith("step "):
                return time.monotonic() - killed_at
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    sys.exit("checkpoint_bench: the killed job did not resume")


def median_line(name, values, unit):
    return (f"{name:<28} median {statistics.median(values):8.3f} {unit}  "
            f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})")


def main():
    args = parse_args()
    build = os.path.abspath(args.build)
    args.ionet_run = os.path.join(build, "bin", "ionet-run")
    args.ckpt_tool = os.path.join(build, "bin", "ionet-ckpt")
    args.writer = os.path.join(build, "bench", "ckpt_write_bench")
    args.train = os.path.join(build, "examples", "train")
    base = os.path.abspath(args.dir or os.path.join(build, "bench-checkpoint"))
    os.makedirs(base, exist_ok=True)
    print(f"checkpoint bench in {base}: 2 ranks x {args.mib} MiB per set, {args.runs} runs",
          flush=True)

    ckpt_gbs, dd_gbs, ratios, warm, cold = [], [], [], [], []
    for i in range(args.runs):
        c, d, total = measure_write(args, os.path.join(base, "write"), dd_first=i % 2 == 1)
        ckpt_gbs.append(c)
        dd_gbs.append(d)
        ratios.append(c / d)
        set_dir = os.path.join(base, "write", "step-2")
        warm.append(measure_verify(args, set_dir, total, cold=False))
        v = measure_verify(args, set_dir, total, cold=True)
        if v is not None:
            cold.append(v)
        print(f"  run {i + 1}: checkpoint {c:.2f} GB/s, dd {d:.2f} GB/s, ratio {c / d:.2f}; "
              f"verify warm {warm[-1]:.2f} GB/s" +
              (f", cold {cold[-1]:.2f} GB/s" if v is not None else ""), flush=True)
    shutil.rmtree(os.path.join(base, "write"), ignore_errors=True)

    recovery = {"shared": [], "partner": []}
    for i in range(args.runs):
        for storage in recovery:
            recovery[storage].append(
                measure_recovery(args, os.path.join(base, "recovery"), storage))
            print(f"  recovery run {i + 1}, {storage} storage: {recovery[storage][-1]:.2f} s",
                  flush=True)
    shutil.rmtree(os.path.join(base, "recovery"), ignore_errors=True)

    print()
    print(median_line("checkpoint write", ckpt_gbs, "GB/s"))
    print(median_line("dd conv=fsync", dd_gbs, "GB/s"))
    print(median_line("write ratio ckpt/dd", ratios, "x   (target >= 0.8)"))
    print(median_line("verify, page cache warm", warm, "GB/s (target >= 1)"))
    if cold:
        print(median_line("verify, page cache dropped", cold, "GB/s"))
    else:
        print("verify, page cache dropped  not measured: cannot write /proc/sys/vm/drop_caches")
    print(median_line("kill -9 agent -> 1st step", recovery["shared"], "s   (target <= 5)"))
    print(median_line("  ... partner storage", recovery["partner"],
                      "s   (incl. fetching 2 rank files)"))


if __name__ == "__main__":
    main()
