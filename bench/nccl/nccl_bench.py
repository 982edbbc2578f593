#!/usr/bin/python3
"""NCCL's path across ionet: libnccl-net-ionet.so (shared-memory rings to the agent, one session
channel per connection) against the same bytes as one TCP stream through the shim path (rank ->
shim -> forwarder -> session -> forwarder -> rank), between two emulated hosts with pool agents,
interleaved run by run in one run. Prints medians and ratios.

  clean link:                   4 MiB messages; target plugin/shim >= 1.5, with less agent CPU/GB
  50 ms RTT, 1 % loss, 1 Gbit/s: target plugin >= 0.8 x ionet-wanperf's goodput on that path
Both paths are driven by tests/nccl/nccl_net_harness (--stream: 8 messages in flight, as NCCL
keeps; --tcp-stream: one TCP connection, as NCCL's socket transport would open through the shim).
Agent CPU per GB: the pool agents' CPU with their reaped children (the job agents and the ranks)
before and after a job, less what the ranks report for themselves.
"""
import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from two_host_pool import WANEMU, TwoHostPool  # noqa: E402  (bench/two_host_pool.py)
NAME = "ncclbench"
TICK = os.sysconf("SC_CLK_TCK")


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def cpu_of(pid):
    """utime + stime + cutime + cstime of pid, seconds (children counted once reaped)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICK


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def run_job(build, pool, agents, program, timeout=900):
    """One two-rank job (rank 0 on h1 sends, rank 1 on h2 receives); returns (stdout, agent CPU
    seconds of both hosts, the ranks' own excluded). pool None: two emulated hosts on this
    kernel (--local-hosts 2), whose agents are ionet-run's children (and so ours once reaped)."""
    if pool is None:
        before = children_cpu()
        r = subprocess.run([f"{build}/bin/ionet-run", "--local-hosts", "2", "-np", "2", "-N",
                            "1"] + program, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"job failed (rc {r.returncode}): {r.stderr[-800:]}")
        ranks = sum(float(v) for v in re.findall(r"rank-cpu rank=\d seconds=([\d.]+)", r.stdout))
        return r.stdout, max(children_cpu() - before - ranks, 0.0)
    before = sum(cpu_of(a.pid) for a in agents)
    r = subprocess.run(["ip", "netns", "exec", f"{NAME}-h1", f"{build}/bin/ionet-run", "--pool",
                        pool, "-np", "2", "-N", "1"] + program,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"job failed (rc {r.returncode}): {r.stdout[-400:]} {r.stderr[-800:]}")
    # The job agents' CPU reaches the pool agents' cutime once they are reaped.
    deadline = time.time() + 10
    while sh("pgrep", "-f", "ionet-agent --connect", check=False).stdout.strip():
        if time.time() > deadline:
            raise RuntimeError("job agents still running 10 s after their job")
        time.sleep(0.01)  # polling /proc for the job agents to be gone
    after = sum(cpu_of(a.pid) for a in agents)
    ranks = sum(float(v) for v in re.findall(r"rank-cpu rank=\d seconds=([\d.]+)", r.stdout))
    return r.stdout, max(after - before - ranks, 0.0)


def stream(build, pool, agents, plugin, nbytes):
    """Returns (Mbit/s, agent CPU seconds per GB)."""
    harness = f"{build}/tests/nccl_net_harness"
    program = [harness, "--stream" if plugin else "--tcp-stream", str(nbytes)]
    out, cpu = run_job(build, pool, agents, program)
    m = re.search(r"(?:nccl-net-stream|tcp-stream) bytes=(\d+) seconds=([\d.]+)", out)
    if not m:
        raise RuntimeError(f"no throughput line: {out[-400:]}")
    moved, secs = int(m.group(1)), float(m.group(2))
    return moved * 8 / secs / 1e6, cpu / (moved / 1e9)


def interleaved(label, build, pool, agents, nbytes, rounds):
    runs = {"plugin": [], "shim": []}
    for _ in range(rounds):
        runs["plugin"].append(stream(build, pool, agents, True, nbytes))
        runs["shim"].append(stream(build, pool, agents, False, nbytes))
    med = {k: (statistics.median(v[0] for v in vs), statistics.median(v[1] for v in vs))
           for k, vs in runs.items()}
    ratio = med["plugin"][0] / med["shim"][0]
    print(f"{label:<38} plugin {med['plugin'][0]:8.1f} Mbit/s {med['plugin'][1]:5.2f} CPU-s/GB"
          f" | shim {med['shim'][0]:8.1f} Mbit/s {med['shim'][1]:5.2f} CPU-s/GB"
          f" | ratio {ratio:5.2f}   (plugin {', '.join(f'{v[0]:.0f}' for v in runs['plugin'])};"
          f" shim {', '.join(f'{v[0]:.0f}' for v in runs['shim'])})", flush=True)
    return ratio, med


def wanperf_goodput(build, base, addr2, seconds, rounds):
    """ionet-wanperf between the same two hosts (TLS session, as the agents'): Mbit/s runs."""
    wanperf = f"{build}/bin/ionet-wanperf"
    agent = f"{build}/bin/ionet-agent"
    sh(agent, "--gen-ca", f"{base}/ca", "--pool", "bench")
    for node in ("sender", "sink"):
        sh(agent, "--issue-cert", node, "--ca", f"{base}/ca", "--out", f"{base}/{node}")
    server = subprocess.Popen(["ip", "netns", "exec", f"{NAME}-h2", wanperf, "-s", "--tls",
                               f"{base}/sink", "--listen", "0.0.0.0:5611"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              start_new_session=True)
    try:
        if "listening" not in server.stdout.readline():
            raise RuntimeError("ionet-wanperf server did not start")
        values = []
        for _ in range(rounds):
            r = sh("ip", "netns", "exec", f"{NAME}-h1", wanperf, "-c", f"{addr2}:5611", "--tls",
                   f"{base}/sender", "-t", str(seconds), "--json", timeout=seconds * 4 + 60)
            line = [l for l in r.stdout.splitlines() if l.startswith("{")][-1]
            values.append(json.loads(line)["goodput_mbps"])
        return values
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clean-bytes", type=int, default=2 << 30)
    ap.add_argument("--lossy-bytes", type=int, default=512 << 20)
    ap.add_argument("--lossy-rounds", type=int, default=3, help="0 skips the lossy link")
    ap.add_argument("--local-rounds", type=int, default=3,
                    help="rounds on --local-hosts 2 (no emulator in the path; 0 skips them)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    with TwoHostPool(build, NAME) as world:
        work, pool, addr2 = world.work, world.file, world.addr[2]
        agents_cpu = world.agents
        if args.local_rounds > 0:
            local, _ = interleaved("two hosts on one kernel (--local-hosts)", build, None, [],
                                   args.clean_bytes, args.local_rounds)
            print(f"  (no emulator: the paths' own cost; plugin/shim {local:.2f})")
        print(f"NCCL bytes between two emulated hosts, 4 MiB messages: plugin vs the shim path; "
              f"medians of {args.rounds} interleaved runs")
        clean, med = interleaved(f"clean link, {args.clean_bytes >> 20} MiB", build, pool,
                                 agents_cpu, args.clean_bytes, args.rounds)
        cpu_ok = med["plugin"][1] < med["shim"][1]
        print(f"target: clean plugin/shim >= 1.5 -> {'met' if clean >= 1.5 else 'NOT met'} "
              f"({clean:.2f}); agent CPU per GB lower -> {'met' if cpu_ok else 'NOT met'} "
              f"({med['plugin'][1]:.2f} vs {med['shim'][1]:.2f} s/GB)")
        if args.lossy_rounds > 0:
            sh(WANEMU, "shape", NAME, "--delay-ms", "25", "--loss", "1", "--rate", "1gbit")
            lossy, lmed = interleaved(f"50 ms RTT, 1 % loss, 1 Gbit/s, {args.lossy_bytes >> 20} MiB",
                                      build, pool, agents_cpu, args.lossy_bytes,
                                      args.lossy_rounds)
            perf = wanperf_goodput(build, work, addr2, 10, args.lossy_rounds)
            ratio = lmed["plugin"][0] / statistics.median(perf)
            print(f"ionet-wanperf on that path: {statistics.median(perf):.1f} Mbit/s (runs: "
                  f"{', '.join(f'{v:.0f}' for v in perf)})")
            print(f"target: lossy plugin >= 0.8 x wanperf -> {'met' if ratio >= 0.8 else 'NOT met'}"
                  f" ({ratio:.2f}); plugin/shim there {lossy:.2f}")


if __name__ == "__main__":
    main()
