#!/usr/bin/python3
"""WAN transport benchmark: ionet-wanperf goodput vs one TCP CUBIC and one TCP BBR stream.

All three run on the same emulated path (tests/wanemu/wanemu: two network-namespace hosts
behind a router with a rate limit, a user-space delay line and random loss), with the same
tool (ionet-wanperf and its --tcp-client baseline), interleaved run by run so machine noise
hits all alike. Reports medians and the ratios the WAN issue targets:
ionet / bottleneck >= 0.90 and ionet / CUBIC >= 5. Then, on loopback, the CPU cost per GB of
the session transport with TLS and without. Needs root (network namespaces).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WANEMU = os.path.join(ROOT, "tests", "wanemu", "wanemu")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--runs", type=int, default=3, help="runs per tool and case")
    p.add_argument("--seconds", type=float, default=15, help="length of each transfer")
    p.add_argument("--rate", default="1gbit", help="bottleneck rate (tc syntax)")
    p.add_argument("--rtts", default="50,200", help="comma-separated RTTs in ms")
    p.add_argument("--loss", type=float, default=1.0, help="random loss, percent per direction")
    p.add_argument("--cpu-bytes", type=int, default=2 << 30, help="bytes for the CPU-cost runs")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    return p.parse_args()


def rate_mbps(rate):
    units = {"kbit": 1e-3, "mbit": 1.0, "gbit": 1e3}
    for suffix, scale in units.items():
        if rate.endswith(suffix):
            return float(rate[: -len(suffix)]) * scale
    raise SystemExit(f"--rate {rate}: use kbit, mbit or gbit")


def wanemu(*args):
    return subprocess.run([WANEMU, *args], check=True, capture_output=True, text=True).stdout.strip()


class Server:
    """A long-running wanperf server (session or TCP baseline) in a host namespace."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"server did not start: {cmd}: {line!r}")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait()


def last_json(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{") and '"role"' in line:
            return json.loads(line)
    return None


def client(cmd, timeout):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    result = last_json(r.stdout)
    if r.returncode != 0 or result is None:
        print(f"  run failed ({r.returncode}): {r.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return result


def creds(build):
    """A throwaway pool CA and two node certificates, made with ionet-agent."""
    base = f"/tmp/ionet-wan-bench-{os.getpid()}"
    agent = os.path.join(build, "bin", "ionet-agent")
    subprocess.run(["rm", "-rf", base], check=True)
    subprocess.run([agent, "--gen-ca", f"{base}/ca", "--pool", "bench"], check=True,
                   capture_output=True)
    for node in ("sender", "sink"):
        subprocess.run([agent, "--issue-cert", node, "--ca", f"{base}/ca", "--out",
                        f"{base}/{node}"], check=True, capture_output=True)
    return base


def path_case(args, wanperf, base, rtt_ms):
    name = f"wb{os.getpid() % 100000}"
    wanemu("down", name)
    wanemu("up", name, "--hosts", "2", "--delay-ms", str(rtt_ms / 2), "--rate", args.rate,
           "--loss", str(args.loss))
    results = {"ionet": [], "cubic": [], "bbr": []}
    servers = []
    try:
        sink = wanemu("addr", name, "h2")
        h1 = ["ip", "netns", "exec", f"{name}-h1"]
        h2 = ["ip", "netns", "exec", f"{name}-h2"]
        servers.append(Server(h2 + [wanperf, "-s", "--tls", f"{base}/sink",
                                    "--listen", "0.0.0.0:5601"]))
        servers.append(Server(h2 + [wanperf, "--tcp-server", "--listen", "0.0.0.0:5602"]))
        limit = args.seconds * 4 + 60
        for run in range(args.runs):
            for tool in ("ionet", "cubic", "bbr"):
                if tool == "ionet":
                    cmd = h1 + [wanperf, "-c", f"{sink}:5601", "--tls", f"{base}/sender",
                                "-t", str(args.seconds), "--json"]
                else:
                    cmd = h1 + [wanperf, "--tcp-client", f"{sink}:5602", "--congestion", tool,
                                "-t", str(args.seconds), "--json"]
                r = client(cmd, limit)
                if r:
                    results[tool].append(r["goodput_mbps"])
                    extra = f" ({r['streams']} streams)" if tool == "ionet" else ""
                    print(f"  rtt {rtt_ms} ms run {run + 1} {tool:5s}: "
                          f"{r['goodput_mbps']:8.1f} Mbit/s{extra}", flush=True)
    finally:
        for s in servers:
            s.stop()
        wanemu("down", name)
    return results


def cpu_case(wanperf, base, nbytes, secure):
    sec = ["--tls", f"{base}/sink"] if secure else ["--insecure"]
    csec = ["--tls", f"{base}/sender"] if secure else ["--insecure"]
    server = subprocess.Popen([wanperf, "-s", "--listen", "127.0.0.1:5603", "--once", "--json"] + sec,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert "listening" in server.stdout.readline()
    c = client([wanperf, "-c", "127.0.0.1:5603", "-n", str(nbytes), "--json"] + csec, 300)
    out, _ = server.communicate(timeout=60)
    s = last_json(out)
    if not c or not s:
        return None
    gb = c["bytes"] / 1e9
    return {"cpu_s_per_gb": (c["cpu_seconds"] + s["cpu_seconds"]) / gb,
            "goodput_mbps": c["goodput_mbps"]}


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    args = parse_args()
    if os.geteuid() != 0:
        raise SystemExit("wan_bench: needs root (network namespaces)")
    wanperf = os.path.join(args.build, "bin", "ionet-wanperf")
    base = creds(args.build)
    bottleneck = rate_mbps(args.rate)
    report = {"rate_mbps": bottleneck, "loss_percent": args.loss, "paths": {}, "cpu": {}}
    print(f"WAN bench: {args.rate} bottleneck, {args.loss}% loss each way, "
          f"{args.seconds:g} s transfers, {args.runs} runs each, medians")
    for rtt in [int(x) for x in args.rtts.split(",")]:
        results = path_case(args, wanperf, base, rtt)
        report["paths"][rtt] = {k: {"runs": v, "median": median(v)} for k, v in results.items()}
    print()
    print(f"{'RTT':>6} {'ionet':>10} {'CUBIC':>10} {'BBR':>10} {'ionet/link':>11} "
          f"{'ionet/CUBIC':>12} {'ionet/BBR':>10}")
    for rtt, r in report["paths"].items():
        i, c, b = r["ionet"]["median"], r["cubic"]["median"], r["bbr"]["median"]
        print(f"{rtt:>4}ms {i:>10.1f} {c:>10.1f} {b:>10.1f} {i / bottleneck:>11.2f} "
              f"{i / c:>12.1f} {i / b:>10.2f}")
    print("  (Mbit/s goodput; targets: ionet/link >= 0.90, ionet/CUBIC >= 5)")
    print()
    for secure in (True, False):
        label = "TLS" if secure else "plain"
        r = cpu_case(wanperf, base, args.cpu_bytes, secure)
        report["cpu"][label] = r
        if r:
            print(f"loopback, {label:5s}: {r['cpu_s_per_gb']:.2f} CPU s per GB "
                  f"(sender + receiver), {r['goodput_mbps']:.0f} Mbit/s")
    tls, plain = report["cpu"].get("TLS"), report["cpu"].get("plain")
    if tls and plain:
        print(f"TLS costs {tls['cpu_s_per_gb'] - plain['cpu_s_per_gb']:.2f} CPU s per GB "
              f"({tls['cpu_s_per_gb'] / plain['cpu_s_per_gb']:.2f}x plain)")
    subprocess.run(["rm", "-rf", base])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
