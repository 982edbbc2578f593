#!/usr/bin/python3
"""tcpbulk: bulk TCP sender/receiver for measuring the WAN emulator (no iperf here).

  tcpbulk.py recv --port P [--streams N]        prints "listening", then the goodput
  tcpbulk.py send ADDR --port P --seconds S [--streams N] [--cc bbr|cubic|reno]

--cc is checked on the connected socket (exit 1 if another algorithm is in effect).

The receiver reports goodput over all streams from the first byte to the last, and over the
interval after the first second (past slow start), as one line:
  received BYTES bytes in SECS s: TOTAL Mbit/s overall, STEADY Mbit/s after 1 s
"""
import argparse
import socket
import sys
import threading
import time


def receive(args):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", args.port))
    listener.listen(64)
    print("listening", flush=True)
    lock = threading.Lock()
    first, last, total, steady = [None], [0.0], [0], [0]

    def serve(conn):
        buf = bytearray(1 << 20)
        while True:
            n = conn.recv_into(buf)
            if not n:
                break
            now = time.monotonic()
            with lock:
                if first[0] is None:
                    first[0] = now
                total[0] += n
                last[0] = now
                if now - first[0] >= 1.0:
                    steady[0] += n

    threads = []
    for _ in range(args.streams):
        conn, _ = listener.accept()
        t = threading.Thread(target=serve, args=(conn,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    span = last[0] - first[0]
    print(f"received {total[0]} bytes in {span:.2f} s: {total[0] * 8 / span / 1e6:.1f} Mbit/s "
          f"overall, {steady[0] * 8 / max(span - 1.0, 1e-9) / 1e6:.1f} Mbit/s after 1 s",
          flush=True)


def send(args):
    def one():
        conn = socket.socket()
        if args.cc:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, args.cc.encode())
        conn.connect((args.addr, args.port))
        if args.cc:
            # What the connected socket really uses: a setting lost on the way (a library that
            # re-creates the socket to connect) would silently measure the default (bbr here).
            used = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
            used = used.split(b"\0", 1)[0].decode()
            if used != args.cc:
                raise OSError(f"congestion control {used}, not {args.cc}")
        block = b"x" * (1 << 20)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            conn.sendall(block)
        conn.close()

    errors = []

    def guarded():
        try:
            one()
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=guarded) for _ in range(args.streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def main():
    parser = argparse.ArgumentParser(description="bulk TCP for measuring the WAN emulator")
    sub = parser.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--streams", type=int, default=1)
    s = sub.add_parser("send")
    s.add_argument("addr")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--streams", type=int, default=1)
    s.add_argument("--cc", default="")
    args = parser.parse_args()
    try:
        receive(args) if args.mode == "recv" else send(args)
    except OSError as e:
        print(f"tcpbulk: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
