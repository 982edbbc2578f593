#!/usr/bin/python3
"""What any user-space relay can reach on this machine: one TCP stream between two emulated
hosts, sent directly and through two relays that do nothing but move bytes (one relay on each
host, as ionet's agents sit), side by side in one run.

  direct        source (h1) -> sink (h2)
  splice relay  source -> relay h1 -> relay h2 -> sink; the relays splice() through a pipe:
                no copy to user space, no framing, no encryption
  copy relay    the same with recv()/send() through a 1 MiB user buffer: the least a relay
                that looks at the bytes (to frame or encrypt them) must do

ionet's data path does strictly more than the copy relay (TLS, framing, retransmit buffer), so
the copy relay's ratio to direct is a ceiling for it on this machine. Alone:
relay_ceiling.py [--rounds N] [--megabytes M]. datapath_bench.py also runs the same stream as a
two-rank ionet-run job through the agents (`relay_ceiling.py job ...`, the role below), next to
these relays, so that ionet's own cost per byte is seen without MPI's.
"""
import argparse
import fcntl
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WANEMU = os.path.join(HERE, "..", "..", "tests", "wanemu", "wanemu")
CHUNK = 1 << 20


def ns(name, host, *argv, **kw):
    return subprocess.Popen(["ip", "netns", "exec", f"{name}-{host}", sys.executable,
                             os.path.abspath(__file__)] + list(argv), **kw)


def listen(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4)
    return s


def receive_all(conn, buf):
    """Reads `conn` to its end; returns (bytes, seconds from the first byte to the end)."""
    total, start = 0, None
    while True:
        n = conn.recv_into(buf)
        if n == 0:
            break
        if start is None:
            start = time.perf_counter()
        total += n
    return total, (time.perf_counter() - start if start else 0.0)


def role_sink(addr, port):
    """Accepts connections one after another; for each prints the bytes/s it received."""
    server = listen(addr, port)
    print("ready", flush=True)
    buf = bytearray(CHUNK)
    while True:
        conn, _ = server.accept()
        total, elapsed = receive_all(conn, buf)
        conn.close()
        print(f"{total} {elapsed:.6f}", flush=True)


def role_source(addr, port, megabytes):
    data = memoryview(bytearray(b"x" * CHUNK))
    s = socket.create_connection((addr, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(megabytes):
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the sink closes once it has everything
    s.close()


def role_job(rendezvous, megabytes, real_addr):
    """A rank of an ionet-run job: rank 1 receives (and prints the rate), rank 0 sends. Rank 1
    publishes the address rank 0 dials in `rendezvous` (a file both hosts see): its virtual
    address on ionet's data path, else the host's real one."""
    if os.environ["IONET_RANK"] == "1":
        server = listen("0.0.0.0", 0)
        addr = os.environ.get("IONET_VADDR", real_addr)
        with open(rendezvous + ".tmp", "w") as f:
            f.write(f"{addr} {server.getsockname()[1]}")
        os.rename(rendezvous + ".tmp", rendezvous)
        conn, _ = server.accept()
        total, elapsed = receive_all(conn, bytearray(CHUNK))
        conn.close()
        print(f"stream {total} bytes in {elapsed:.6f} s", flush=True)
        return
    deadline = time.time() + 60
    while not os.path.exists(rendezvous):  # rank 1 is listening once the file is there
        if time.time() > deadline:
            sys.exit("relay_ceiling job: rank 1 published no address within 60 s")
        time.sleep(0.01)
    addr, port = open(rendezvous).read().split()
    role_source(addr, int(port), megabytes)


def role_relay(addr, port, to_addr, to_port, mode):
    """Forwards each accepted connection to (to_addr, to_port), both ways not needed: one way."""
    server = listen(addr, port)
    print("ready", flush=True)
    while True:
        a, _ = server.accept()
        b = socket.create_connection((to_addr, int(to_port)))
        for s in (a, b):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if mode == "splice":
            r, w = os.pipe()
            fcntl.fcntl(w, 1031, CHUNK)  # F_SETPIPE_SZ
            while True:
                n = os.splice(a.fileno(), w, CHUNK)
                if n == 0:
                    break
                while n > 0:
                    n -= os.splice(r, b.fileno(), n)
            os.close(r)
            os.close(w)
        else:
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while True:
                n = a.recv_into(buf)
                if n == 0:
                    break
                b.sendall(view[:n])
        b.shutdown(socket.SHUT_WR)
        b.recv(1)
        a.close()
        b.close()


def measure(name, megabytes, rounds, extra=None):
    """Interleaved rounds of the direct stream, the two relays and `extra` (label -> a function
    that streams `megabytes` its own way and returns Mbit/s); prints medians and ratios to the
    direct stream, returns the ratios."""
    h1 = subprocess.run([WANEMU, "addr", name, "h1"], capture_output=True, text=True,
                        check=True).stdout.strip()
    h2 = subprocess.run([WANEMU, "addr", name, "h2"], capture_output=True, text=True,
                        check=True).stdout.strip()
    procs = []

    def start(host, *argv):
        p = ns(name, host, *argv, stdout=subprocess.PIPE, text=True)
        procs.append(p)
        if argv[0] != "source":
            assert p.stdout.readline().strip() == "ready"
        return p

    try:
        sink = start("h2", "sink", "0.0.0.0", "7101")
        for mode, port in (("splice", 7201), ("copy", 7301)):
            start("h2", "relay", h2, str(port), "127.0.0.1", "7101", mode)
            start("h1", "relay", "127.0.0.1", str(port + 1), h2, str(port), mode)
        paths = {"direct": (h2, 7101), "splice relay": ("127.0.0.1", 7202),
                 "copy relay": ("127.0.0.1", 7302)}
        extra = extra or {}
        rates = {k: [] for k in list(paths) + list(extra)}
        for _ in range(rounds):
            for label, (addr, port) in paths.items():
                src = ns(name, "h1", "source", addr, str(port), str(megabytes))
                total, elapsed = sink.stdout.readline().split()
                src.wait(timeout=120)
                rates[label].append(int(total) * 8 / float(elapsed) / 1e6)
            for label, run in extra.items():
                rates[label].append(run())
        direct = statistics.median(rates["direct"])
        for label, values in rates.items():
            m = statistics.median(values)
            print(f"  one TCP stream, {label:<30} {m:9.1f} Mbit/s  ratio {m / direct:5.2f}"
                  f"   (runs: {', '.join(f'{v:.0f}' for v in values)})", flush=True)
        return {k: statistics.median(v) / direct for k, v in rates.items()}
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("sink", "source", "relay", "job"):
        role, args = sys.argv[1], sys.argv[2:]
        if role == "job":
            return role_job(args[0], int(args[1]), args[2])
        if role == "sink":
            return role_sink(args[0], int(args[1]))
        if role == "source":
            return role_source(args[0], int(args[1]), int(args[2]))
        return role_relay(args[0], int(args[1]), args[2], args[3], args[4])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--megabytes", type=int, default=2048)
    args = ap.parse_args()
    name = "dpceil"
    subprocess.run([WANEMU, "down", name], capture_output=True)
    subprocess.run([WANEMU, "up", name, "--hosts", "2"], check=True, capture_output=True)
    try:
        measure(name, args.megabytes, args.rounds)
    finally:
        subprocess.run([WANEMU, "down", name], capture_output=True)


if __name__ == "__main__":
    main()
