"""N emulated hosts (network namespaces through tests/wanemu/wanemu) with a pool agent each,
some of them behind NAT and reached through h1's relay, for the benchmarks that run jobs across
a pool (bench/collectives; bench/datapath and bench/nccl through two_host_pool.py):

    with WanPool(build, "collb", hosts=3, nat=[3], delay_ms=25, rate="1gbit") as pool:
        subprocess.run(pool.run_cmd(["-np", "6", "-N", "2", "prog"]))
        pool.shape(loss=1)

With NAT'd hosts h1 is the relay (`relay = true`); a NAT'd host hI has `via = "h1"` and no address. On leaving,
the agents get SIGTERM and must stop cleanly (anything else fails the bench), and the emulated
WAN is taken down.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

WANEMU = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "wanemu",
                      "wanemu")


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


class WanPool:
    def __init__(self, build, name, hosts=3, nat=(), delay_ms=0, rate=None, loss=0, slots=2):
        self.build = os.path.abspath(build)
        self.name = name
        self.hosts = hosts
        self.nat = set(nat)
        if 1 in self.nat:
            raise ValueError("h1 is the relay and cannot be behind NAT")
        self.delay_ms = delay_ms
        self.rate = rate
        self.loss = loss
        self.slots = slots
        self.work = tempfile.mkdtemp(prefix=f"{name}-")
        self.file = os.path.join(self.work, "pool.toml")
        self.agents = []
        self.addr = {}

    def netns(self, host):
        return f"{self.name}-h{host}"

    def write_pool(self, path, site=None):
        """The pool file (with `site`: every public host in that direct site)."""
        pool = f'[pool]\nname = "bench"\npsk = "pool.psk"\n'
        if site:
            pool += f'direct_sites = ["{site}"]\n'
        for h in range(1, self.hosts + 1):
            pool += f'\n[[host]]\nname = "h{h}"\n'
            if h in self.nat:
                pool += 'via = "h1"\n'
            else:
                pool += f'address = "{self.addr[h]}"\n'
                if h == 1 and self.nat:
                    pool += "relay = true\n"
                if site:
                    pool += f'site = "{site}"\n'
            pool += f"slots = {self.slots}\n"
        with open(path, "w") as f:
            f.write(pool)
        return path

    def run_cmd(self, args):
        """An ionet-run command line on this pool, launched from h1's namespace."""
        return ["ip", "netns", "exec", self.netns(1), f"{self.build}/bin/ionet-run", "--pool",
                self.file] + list(args)

    def shape(self, loss=None, delay_ms=None):
        args = [WANEMU, "shape", self.name]
        if delay_ms is not None:
            args += ["--delay-ms", str(delay_ms)]
            self.delay_ms = delay_ms
        if loss is not None:
            args += ["--loss", str(loss)]
            self.loss = loss
        sh(*args)

    def wait_ready(self, timeout=60):
        """Ready when a trivial job reaches every host (NAT'd ones park at h1's relay)."""
        deadline = time.time() + timeout
        while True:
            try:
                r = subprocess.run(self.run_cmd(["-np", str(self.hosts), "-N", "1", "true"]),
                                   capture_output=True, text=True, timeout=60)
                if r.returncode == 0:
                    return
                last = r.stderr
            except subprocess.TimeoutExpired:
                last = "timed out"
            if time.time() > deadline:
                raise RuntimeError(f"pool agents did not come up: {last[-2000:]}")
            time.sleep(0.5)

    def __enter__(self):
        sh(WANEMU, "down", self.name, check=False)
        up = [WANEMU, "up", self.name, "--hosts", str(self.hosts)]
        if self.delay_ms:
            up += ["--delay-ms", str(self.delay_ms)]
        if self.rate:
            up += ["--rate", self.rate]
        if self.loss:
            up += ["--loss", str(self.loss)]
        if self.nat:
            up += ["--nat", ",".join(f"h{h}" for h in sorted(self.nat))]
        sh(*up)
        try:
            sh(f"{self.build}/bin/ionet-agent", "--gen-psk", f"{self.work}/pool.psk", "--pool",
               "bench")
            for h in range(1, self.hosts + 1):
                self.addr[h] = sh(WANEMU, "addr", self.name, f"h{h}").stdout.strip()
            self.write_pool(self.file)
            for h in range(1, self.hosts + 1):
                # `ip netns exec` execs the agent: the Popen's pid is the agent's.
                self.agents.append(subprocess.Popen(
                    ["ip", "netns", "exec", self.netns(h), f"{self.build}/bin/ionet-agent",
                     "--pool", self.file, "--host-name", f"h{h}", "--no-gpu-check"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        crashed = []
        for a in self.agents:
            a.terminate()
            try:
                status = a.wait(timeout=10)
            except subprocess.TimeoutExpired:
                a.kill()
                status = a.wait()
            # SIGTERM or a clean exit; anything else (a crash on the way out) fails the bench.
            if status not in (0, -signal.SIGTERM):
                crashed.append(f"pool agent {a.args[-2]}: {status}")
        self.agents = []
        sh(WANEMU, "down", self.name, check=False)
        if crashed:
            sys.exit(f"{self.name}: pool agents did not stop cleanly on SIGTERM: " +
                     ", ".join(crashed))
        return False
