#!/usr/bin/python3
"""MPI ping-pong (NetPIPE, Debian's NPopenmpi) between two emulated hosts, ionet's data path
(shim -> forwarder -> TLS WAN session -> forwarder) against Open MPI's TCP BTL directly, run
side by side (interleaved) in one run on the same emulated WAN. Prints medians and ratios.

  clean link:            1 MiB messages, target ionet/direct >= 0.8
  50 ms RTT, 1 % loss:   64 MiB messages at 1 Gbit/s, target ionet/direct >= 3
The direct baseline runs on the emulated hosts' default congestion control, which is BBR here
(a namespace cannot switch to CUBIC on this kernel: "Operation not permitted") - a far stronger
baseline than a stock CUBIC host (Mathis: ~2.6 Mbit/s at 50 ms, 1 % loss; bench/wan).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WANEMU = os.path.join(HERE, "..", "..", "tests", "wanemu", "wanemu")
NAME = "dpbench"


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def netpipe(build, pool, size, direct, reps, attempts=3):
    """One NetPIPE run of a single message size; returns Mbit/s. On the lossy link NetPIPE
    sometimes exits 0 without printing the size's line (seen in 2 of 4 runs of 64 MiB through
    ionet; its main loop also stops on a time limit, which is our guess at the cause, not
    checked): such a run is repeated, and said so."""
    for attempt in range(attempts):
        value = netpipe_once(build, pool, size, direct, reps)
        if value is not None:
            return value
        print(f"  (NetPIPE printed no {size}-byte line, {'direct' if direct else 'ionet'}; "
              f"running it again)", flush=True)
    raise RuntimeError(f"NetPIPE printed no {size}-byte line in {attempts} runs")


def netpipe_once(build, pool, size, direct, reps):
    env = dict(os.environ)
    env["IONET_DATA_PATH"] = "direct" if direct else "ionet"
    cmd = ["ip", "netns", "exec", f"{NAME}-h1", f"{build}/bin/ionet-run", "--pool", pool,
           "-np", "2", "-N", "1", "/usr/bin/NPopenmpi", "-l", str(size), "-u", str(size + 1),
           "-p", "0", "-n", str(reps), "-o", "/dev/null"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    # NetPIPE measures sizes from -l while below -u; the line of exactly `size` is ours.
    m = re.findall(rf"\b{size} bytes\s+\d+ times -->\s+([\d.]+) Mbps", r.stdout + r.stderr)
    if r.returncode == 0 and not m:
        return None
    if r.returncode != 0:
        raise RuntimeError(f"NetPIPE failed (rc {r.returncode}, {'direct' if direct else 'ionet'}): {r.stdout[-400:]} {r.stderr[-800:]}")
    return float(m[-1])


def compare(build, pool, label, size, reps, rounds):
    ionet, direct = [], []
    for _ in range(rounds):
        ionet.append(netpipe(build, pool, size, False, reps))
        direct.append(netpipe(build, pool, size, True, reps))
    mi, md = statistics.median(ionet), statistics.median(direct)
    print(f"{label:<34} ionet {mi:9.1f} Mbit/s  direct {md:9.1f} Mbit/s  ratio {mi / md:6.2f}"
          f"   (runs: ionet {', '.join(f'{v:.0f}' for v in ionet)};"
          f" direct {', '.join(f'{v:.0f}' for v in direct)})", flush=True)
    return mi / md


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lossy-rounds", type=int, default=3, help="0 skips the lossy link")
    ap.add_argument("--lossy-bytes", type=int, default=64 << 20,
                    help="message size on the lossy link (direct CUBIC needs ~7 min per 64 MiB "
                         "round trip there)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="dpbench-")
    agents = []
    sh(WANEMU, "down", NAME, check=False)
    sh(WANEMU, "up", NAME, "--hosts", "2")
    try:
        sh(f"{build}/bin/ionet-agent", "--gen-psk", f"{work}/pool.psk", "--pool", "bench")
        addr1 = sh(WANEMU, "addr", NAME, "h1").stdout.strip()
        addr2 = sh(WANEMU, "addr", NAME, "h2").stdout.strip()
        pool = f"{work}/pool.toml"
        with open(pool, "w") as f:
            f.write(f'[pool]\nname = "bench"\npsk = "pool.psk"\n\n'
                    f'[[host]]\nname = "h1"\naddress = "{addr1}"\nslots = 1\n\n'
                    f'[[host]]\nname = "h2"\naddress = "{addr2}"\nslots = 1\n')
        for h in (1, 2):
            agents.append(subprocess.Popen(
                ["ip", "netns", "exec", f"{NAME}-h{h}", f"{build}/bin/ionet-agent", "--pool",
                 pool, "--host-name", f"h{h}"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        deadline = time.time() + 30
        while True:  # ready when a job reaches both hosts
            r = subprocess.run(["ip", "netns", "exec", f"{NAME}-h1", f"{build}/bin/ionet-run",
                                "--pool", pool, "-np", "2", "-N", "1", "true"],
                               capture_output=True, timeout=60)
            if r.returncode == 0:
                break
            if time.time() > deadline:
                sys.exit("pool agents did not come up")
        print("MPI ping-pong (NetPIPE) between two emulated hosts: ionet data path vs TCP BTL "
              f"direct; medians of {args.rounds} interleaved runs")
        clean = compare(build, pool, "clean link, 1 MiB", 1 << 20, 50, args.rounds)
        print(f"target: clean >= 0.8 -> {'met' if clean >= 0.8 else 'NOT met'} ({clean:.2f})")
        if args.lossy_rounds > 0:
            sh(WANEMU, "shape", NAME, "--delay-ms", "25", "--loss", "1", "--rate", "1gbit")
            lossy = compare(build, pool,
                            f"50 ms RTT, 1 % loss, 1 Gbit/s, {args.lossy_bytes >> 20} MiB",
                            args.lossy_bytes, 1, args.lossy_rounds)
            print(f"target: lossy >= 3 -> {'met' if lossy >= 3 else 'NOT met'} ({lossy:.2f})")
    finally:
        for a in agents:
            a.terminate()
            a.wait(timeout=10)
        sh(WANEMU, "down", NAME, check=False)


if __name__ == "__main__":
    main()
