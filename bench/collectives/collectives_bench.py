#!/usr/bin/python3
"""WAN-aware MPI collectives: time MPI_Allreduce/Bcast/Allgather on an emulated WAN pool of 3
hosts x 2 ranks (h3 behind NAT, through h1's relay; RTT 50 ms, 1 Gbit/s per host) under

    defaults    --coll mpi   --wan-tuning off     Open MPI as it comes
    tuned       --coll mpi   --wan-tuning auto    Open MPI with ionet's WAN tuning
    ionet-coll  --coll ionet --wan-tuning auto    libionet-coll's host-aware collectives
    bf16        --coll ionet --wan-tuning auto --wan-compress bf16   (allreduce only)

at 0% and 1% loss, beside the theoretical floor (README.md), plus LAMMPS' LJ melt on the same
pool (defaults vs ionet-coll) and a local 2-host comparison (no WAN: ionet-coll must cost
nothing). Usage:

    /usr/bin/python3 bench/collectives/collectives_bench.py --build build [--quick]
        [--loss 0|both] [--no-lammps] [--no-local]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from wan_pool import WanPool  # noqa: E402  (bench/wan_pool.py)

HOSTS = 3
PER_HOST = 2
DELAY_MS = 25                 # one way per pass: RTT = 2 * DELAY_MS
RTT = 2 * DELAY_MS / 1e3      # seconds
RATE = "1gbit"
B = 125e6                     # bytes/s per host link
JOB_TIMEOUT = 300
NAT = True                    # h3 behind NAT, relayed by h1 (--no-nat: every host public)

FULL_SIZES = [8, 1024, 65536, 1 << 20, 16 << 20, 64 << 20]
QUICK_SIZES = [8, 1 << 20, 64 << 20]
LOCAL_SIZES = [8, 1024, 65536, 1 << 20, 16 << 20]

CONFIGS = [
    ("defaults", ["--coll", "mpi", "--wan-tuning", "off"]),
    ("tuned", ["--coll", "mpi", "--wan-tuning", "auto"]),
    ("ionet-coll", ["--coll", "ionet", "--wan-tuning", "auto"]),
    ("bf16", ["--coll", "ionet", "--wan-tuning", "auto", "--wan-compress", "bf16"]),
]


def floor_s(op, n, H=HOSTS):
    """The theoretical floor in seconds (README.md)."""
    if op == "allreduce":
        direct = RTT / 2 + (H - 1) * n / B
        two_step = RTT + 2 * (H - 1) / H * n / B
        return min(direct, two_step)
    if op == "bcast":
        return RTT / 2 + n / B
    if op == "allgather":
        return RTT / 2 + (H - 1) / H * n / B
    raise ValueError(op)


def bandwidth_floor_s(n, H=HOSTS):
    """allreduce of large n: reduce-scatter + allgather between hosts, plus one RTT."""
    return 2 * (H - 1) / H * n / B + RTT


def human(n):
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


def parse_timing(stdout):
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"^(allreduce|bcast|allgather) (\d+) ([0-9.]+)$", line.strip())
        if m:
            out[(m.group(1), int(m.group(2)))] = float(m.group(3))
    return out


def run_job(cmd, label):
    """Run one ionet-run; (stdout, ok). A failure prints the stderr tail and goes on."""
    t0 = time.time()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=JOB_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        print(f"  {label}: timed out after {JOB_TIMEOUT} s; stderr tail:\n{tail(err)}",
              flush=True)
        return out, False
    dt = time.time() - t0
    if r.returncode != 0:
        print(f"  {label}: exit {r.returncode} after {dt:.0f} s; stderr tail:\n{tail(r.stderr)}",
              flush=True)
        return r.stdout, False
    print(f"  {label}: {dt:.0f} s", flush=True)
    return r.stdout, True


def fmt_ms(v):
    if v is None:
        return "-"
    if v == "fail":
        return "fail"
    if v < 10:
        return f"{v:.3f}"
    return f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def ratio(a, b):
    if not isinstance(a, float) or not isinstance(b, float) or b <= 0:
        return "-"
    return f"{a / b:.2f}x"


def wan_condition(pool, timing, ops, sizes, loss):
    """Every configuration on the pool as it is shaped now: {(op, n): {config: ms|'fail'}}."""
    cells = {(op, n): {} for op in ops for n in sizes}
    for name, flags in CONFIGS:
        cfg_ops = ["allreduce"] if name == "bf16" else ops
        argv = ["-q", "-np", str(HOSTS * PER_HOST), "-N", str(PER_HOST), "--timeout",
                str(JOB_TIMEOUT - 10)] + flags + [timing, ",".join(cfg_ops)] + \
            [str(n) for n in sizes]
        out, ok = run_job(pool.run_cmd(argv), f"loss {loss}%: {name}")
        got = parse_timing(out)
        for op in cfg_ops:
            for n in sizes:
                cells[(op, n)][name] = got.get((op, n), "fail")
    return cells


def print_wan_table(cells, ops, sizes, loss):
    cols = [c for c, _ in CONFIGS]
    print(f"\n== {HOSTS} hosts x {PER_HOST} ranks, RTT {RTT * 1e3:.0f} ms, {RATE} per host, "
          f"loss {loss}% ({'h3 behind NAT' if NAT else 'no NAT'}); median ms ==")
    head = f"{'op':<10}{'size':>9}" + "".join(f"{c:>12}" for c in cols) + \
        f"{'floor':>10}{'ionet/floor':>13}{'defaults/ionet':>16}"
    print(head)
    print("-" * len(head))
    for op in ops:
        for n in sizes:
            row = cells[(op, n)]
            fl = floor_s(op, n) * 1e3
            line = f"{op:<10}{human(n):>9}"
            for c in cols:
                line += f"{fmt_ms(row.get(c)):>12}"
            line += f"{fl:>10.1f}{ratio(row.get('ionet-coll'), fl):>13}"
            line += f"{ratio(row.get('defaults'), row.get('ionet-coll')):>16}"
            print(line)
    # Targets (allreduce).
    mib = cells.get(("allreduce", 1 << 20), {})
    io, de = mib.get("ionet-coll"), mib.get("defaults")
    if isinstance(io, float) and isinstance(de, float):
        fl = floor_s("allreduce", 1 << 20) * 1e3
        ok = io <= 2 * fl and de >= 4 * io
        print(f"TARGET allreduce 1 MiB (loss {loss}%): ionet-coll {io:.1f} ms = "
              f"{io / fl:.2f}x floor {fl:.1f} ms (want <= 2x), defaults/ionet-coll "
              f"{de / io:.2f}x (want >= 4x): {'PASS' if ok else 'MISS'}")
    else:
        print(f"TARGET allreduce 1 MiB (loss {loss}%): no figure (ionet-coll {io}, defaults {de})")
    big = cells.get(("allreduce", 64 << 20), {})
    io = big.get("ionet-coll")
    bf = bandwidth_floor_s(64 << 20) * 1e3
    if isinstance(io, float):
        print(f"TARGET allreduce 64 MiB (loss {loss}%): ionet-coll {io:.0f} ms = "
              f"{io / bf:.2f}x bandwidth floor {bf:.0f} ms (2(H-1)/H*n/B + RTT; want <= 1.3x): "
              f"{'PASS' if io <= 1.3 * bf else 'MISS'}")
    else:
        print(f"TARGET allreduce 64 MiB (loss {loss}%): no figure (ionet-coll {io})")
    sys.stdout.flush()


def lammps(pool, lmp):
    """LAMMPS' LJ melt on the pool: loop time per step, defaults vs ionet-coll."""
    res = {}
    for name, flags in CONFIGS[:3:2]:  # defaults, ionet-coll
        argv = ["-q", "-np", str(HOSTS * PER_HOST), "-N", str(PER_HOST), "--timeout",
                str(JOB_TIMEOUT - 10), "--wdir", "/tmp"] + flags + \
            [lmp, "-in", os.path.join(HERE, "in.lj"), "-log", "none", "-nocite"]
        out, ok = run_job(pool.run_cmd(argv), f"lammps: {name}")
        m = re.search(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps", out)
        res[name] = float(m.group(1)) / int(m.group(3)) * 1e3 if m else "fail"
        if not m and ok:
            print(f"  lammps {name}: no 'Loop time' line; stdout tail:\n{tail(out)}")
    print(f"\n== LAMMPS LJ melt (in.lj, 32000 atoms, 100 steps) on {HOSTS}x{PER_HOST}, "
          f"RTT {RTT * 1e3:.0f} ms, loss 0%: ms per step ==")
    print(f"{'defaults':>12}{'ionet-coll':>12}{'defaults/ionet-coll':>22}")
    d, i = res.get("defaults"), res.get("ionet-coll")
    print(f"{fmt_ms(d):>12}{fmt_ms(i):>12}{ratio(d, i):>22}")
    if isinstance(d, float) and isinstance(i, float):
        print(f"TARGET lammps: defaults/ionet-coll {d / i:.2f}x (want >= 3x): "
              f"{'PASS' if d / i >= 3 else 'MISS'}")
    sys.stdout.flush()


def local(build, timing, reps):
    """No WAN: 2 local hosts x 2 ranks, allreduce with Open MPI's own (--coll mpi), with the
    library as shipped (--coll ionet: on a link under 10 ms it leaves the calls to Open MPI) and
    forced on (IONET_COLL=1). Runs interleaved."""
    configs = {"mpi": ["--coll", "mpi"], "ionet": ["--coll", "ionet"],
               "forced": ["--coll", "ionet", "-x", "IONET_COLL=1"]}
    best = {c: {} for c in configs}
    for rep in range(reps):
        for name, flags in configs.items():
            cmd = [f"{build}/bin/ionet-run", "-q", "--local-hosts", "2", "-np", "4", "--timeout",
                   str(JOB_TIMEOUT - 10)] + flags + [timing, "allreduce"] + \
                [str(n) for n in LOCAL_SIZES]
            out, ok = run_job(cmd, f"local {rep + 1}/{reps}: {name}")
            for (op, n), v in parse_timing(out).items():
                best[name].setdefault(n, []).append(v)
    best = {c: {n: statistics.median(v) for n, v in runs.items()} for c, runs in best.items()}
    print("\n== local: 2 hosts x 2 ranks on this machine (no WAN), allreduce, ms: median over "
          f"{reps} runs of each run's median ==")
    print(f"{'size':>9}{'mpi':>10}{'ionet-coll':>12}{'forced':>10}{'ionet-coll/mpi':>16}"
          f"{'forced/mpi':>12}")
    worst = None
    for n in LOCAL_SIZES:
        m, i, f = (best[c].get(n) for c in ("mpi", "ionet", "forced"))
        r = i / m if (m and i) else None
        rf = f / m if (m and f) else None
        if r is not None:
            worst = r if worst is None else max(worst, r)
        print(f"{human(n):>9}{fmt_ms(m if m else 'fail'):>10}{fmt_ms(i if i else 'fail'):>12}"
              f"{fmt_ms(f if f else 'fail'):>10}"
              f"{(f'{r:.2f}x' if r is not None else '-'):>16}"
              f"{(f'{rf:.2f}x' if rf is not None else '-'):>12}")
    if worst is not None:
        print(f"TARGET local: worst ionet-coll/mpi {worst:.2f}x (want <= 1.05): "
              f"{'PASS' if worst <= 1.05 else 'MISS'}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true",
                    help="sizes 8 B, 1 MiB, 64 MiB; allreduce only")
    ap.add_argument("--loss", choices=["0", "both"], default="both",
                    help="0: only the lossless WAN; both: 0%% and 1%% loss (default)")
    ap.add_argument("--no-lammps", action="store_true", help="skip LAMMPS' LJ melt")
    ap.add_argument("--no-local", action="store_true", help="skip the local comparison")
    ap.add_argument("--no-nat", action="store_true",
                    help="every host public (default: h3 behind NAT, relayed by h1)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("collectives_bench: needs root (network namespaces)")
    build = os.path.abspath(args.build)
    timing = f"{build}/bench/ionet-coll-timing"
    for f in (timing, f"{build}/bin/ionet-run", f"{build}/bin/ionet-agent",
              f"{build}/lib/libionet-coll.so"):
        if not os.path.exists(f):
            sys.exit(f"collectives_bench: {f} missing (build the project first)")
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    ops = ["allreduce"] if args.quick else ["allreduce", "bcast", "allgather"]
    losses = [0] if args.loss == "0" else [0, 1]
    lmp = None
    if not args.no_lammps:
        for cand in ("lmp", "lmp_openmpi", "lmp_mpi"):
            lmp = subprocess.run(["sh", "-c", f"command -v {cand}"], capture_output=True,
                                 text=True).stdout.strip() or None
            if lmp:
                break
        if not lmp:
            print("collectives_bench: no LAMMPS (lmp) installed: skipping it")

    t0 = time.time()
    tables = []
    global NAT
    NAT = not args.no_nat
    with WanPool(build, "collb", hosts=HOSTS, nat=[3] if NAT else [], delay_ms=DELAY_MS, rate=RATE,
                 slots=PER_HOST) as pool:
        for loss in losses:
            pool.shape(loss=loss)
            pool.wait_ready()
            tables.append((loss, wan_condition(pool, timing, ops, sizes, loss)))
            print_wan_table(tables[-1][1], ops, sizes, loss)
            if loss == 0 and lmp:
                lammps(pool, lmp)
    if not args.no_local:
        local(build, timing, reps=3)
    print(f"\ncollectives_bench: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
