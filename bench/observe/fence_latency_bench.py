#!/usr/bin/python3
"""Fence latency with and without a scraper hammering ionet-run's /metrics.

Runs `ionet-run --local-hosts 2 --metrics-listen 127.0.0.1:0 -np 2 fence_loop N` (fence_loop.c:
N PMIx fences with data collection, each one crossing both hosts and ionet-run), once left alone
and once with --scrapers threads fetching /metrics in a loop for the whole run, interleaved
--rounds times (alternating which goes first) so that background load hits both alike. Prints
the median fence time (rank 0's PMIx_Fence wall time, over every fence of every round) of each,
their ratio, and the scrapes per second the endpoint served. The endpoint serves from its own
threads off a published snapshot, so the ratio should stay near 1 (on 2 shared cores the
scrapers still compete for the CPU). Exit status: 1 if a run failed, else 0.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
URL = re.compile(rb"ionet-run: metrics on http://127\.0\.0\.1:(\d+)/metrics")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--fences", type=int, default=2000, help="fences per run (default 2000)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved pairs of runs (default 5)")
    p.add_argument("--scrapers", type=int, default=4, help="scraping threads (default 4)")
    p.add_argument("--scrape-interval", type=float, default=0.0,
                   help="seconds each scraper waits between scrapes (default 0: back to back)")
    p.add_argument("--timeout", type=float, default=300.0, help="per-run limit in seconds")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    return p.parse_args()


def build_fence_loop(work):
    exe = os.path.join(work, "fence_loop")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "pmix"], check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "fence_loop.c")] + flags,
                   check=True)
    return exe


def scrape(port):
    """One GET /metrics; True on a 200 answer read to its end."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Scrapers:
    """Threads fetching /metrics in a loop until stopped; counts the answers."""

    def __init__(self, port, threads, interval):
        self.port, self.interval, self.stop, self.ok = port, interval, threading.Event(), 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def loop(self):
        while not self.stop.is_set():
            if scrape(self.port):
                with self.lock:
                    self.ok += 1
            if self.interval > 0:
                self.stop.wait(self.interval)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        return self.ok


def run_once(ionet_run, fence_loop, fences, scrapers, interval, timeout):
    """One job; returns (fence times in us, scrapes served per second) or raises RuntimeError."""
    cmd = [ionet_run, "--local-hosts", "2", "--metrics-listen", "127.0.0.1:0", "-np", "2",
           fence_loop, str(fences)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    # A hang is torn down with every process ionet-run started.
    killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    killer.start()
    err, port, found = [], [], threading.Event()

    def read_stderr():
        for line in proc.stderr:
            err.append(line)
            m = URL.search(line)
            if m and not found.is_set():
                port.append(int(m.group(1)))
                found.set()
        found.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    # The URL line comes before the agents start: the scrapers cover every fence.
    found.wait()
    started = time.monotonic()
    crew = Scrapers(port[0], scrapers, interval) if port and scrapers > 0 else None
    out = proc.stdout.read()
    proc.wait()
    elapsed = time.monotonic() - started
    served = crew.finish() if crew else 0
    killer.cancel()
    reader.join()
    if proc.returncode != 0 or not port:
        raise RuntimeError("ionet-run exited %s: %s" % (
            proc.returncode, b"".join(err).decode(errors="replace")[-2000:]))
    for line in out.decode().splitlines():
        if line.startswith("fence_us "):
            return [float(x) for x in line.split()[1:]], served / elapsed
    raise RuntimeError("no fence times in the output")


def main():
    args = parse_args()
    ionet_run = os.path.join(args.build, "bin", "ionet-run")
    if not os.access(ionet_run, os.X_OK):
        sys.exit("no %s: build first (make build)" % ionet_run)
    with tempfile.TemporaryDirectory(prefix="fence-bench-") as work:
        fence_loop = build_fence_loop(work)
        times = {"without": [], "with": []}
        rates, failed = [], 0
        for r in range(args.rounds):
            order = ["without", "with"] if r % 2 == 0 else ["with", "without"]
            for case in order:
                try:
                    t, rate = run_once(ionet_run, fence_loop, args.fences,
                                       args.scrapers if case == "with" else 0,
                                       args.scrape_interval, args.timeout)
                except RuntimeError as e:
                    failed += 1
                    print("round %d %s scraper: FAILED: %s" % (r + 1, case, e))
                    continue
                times[case] += t
                if case == "with":
                    rates.append(rate)
                print("round %d %-7s scraper: median %.1f us over %d fences%s" %
                      (r + 1, case, statistics.median(t), len(t),
                       ", %.0f scrapes/s" % rate if case == "with" else ""))
    if not times["without"] or not times["with"]:
        sys.exit(1)
    without = statistics.median(times["without"])
    with_ = statistics.median(times["with"])
    print("fence latency, median over %d rounds x %d fences (ionet-run --local-hosts 2 -np 2):" %
          (args.rounds, args.fences))
    print("  without scraper: %.1f us" % without)
    print("  with %d scrapers%s: %.1f us (%.0f scrapes/s served)" %
          (args.scrapers, " every %g s" % args.scrape_interval if args.scrape_interval else "",
           with_, statistics.median(rates)))
    print("  ratio with/without: %.2f" % (with_ / without))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"fences": args.fences, "rounds": args.rounds, "scrapers": args.scrapers,
                       "scrape_interval": args.scrape_interval,
                       "median_us_without": without, "median_us_with": with_,
                       "ratio": with_ / without, "scrapes_per_second": statistics.median(rates),
                       "failed_runs": failed}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
