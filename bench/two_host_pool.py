"""Two emulated hosts (network namespaces through tests/wanemu/wanemu) with a pool agent each,
for the benchmarks that run jobs across a pool (bench/datapath, bench/nccl):

    with TwoHostPool(build, "dpbench") as pool:
        run ionet-run --pool pool.file in pool.netns(1) ...

On leaving, the agents get SIGTERM and must stop cleanly (anything else fails the bench), and
the emulated WAN is taken down.
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


class TwoHostPool:
    def __init__(self, build, name):
        self.build = os.path.abspath(build)
        self.name = name
        self.work = tempfile.mkdtemp(prefix=f"{name}-")
        self.file = os.path.join(self.work, "pool.toml")
        self.agents = []
        self.addr = {}

    def netns(self, host):
        return f"{self.name}-h{host}"

    def write_pool(self, path, site=None):
        """A pool file of the two hosts (with `site`: both in that direct site)."""
        pool = f'[pool]\nname = "bench"\npsk = "pool.psk"\n'
        if site:
            pool += f'direct_sites = ["{site}"]\n'
        for h in (1, 2):
            pool += f'\n[[host]]\nname = "h{h}"\naddress = "{self.addr[h]}"\n'
            pool += (f'site = "{site}"\n' if site else "") + "slots = 1\n"
        with open(path, "w") as f:
            f.write(pool)
        return path

    def __enter__(self):
        sh(WANEMU, "down", self.name, check=False)
        sh(WANEMU, "up", self.name, "--hosts", "2")
        try:
            sh(f"{self.build}/bin/ionet-agent", "--gen-psk", f"{self.work}/pool.psk", "--pool",
               "bench")
            for h in (1, 2):
                self.addr[h] = sh(WANEMU, "addr", self.name, f"h{h}").stdout.strip()
            self.write_pool(self.file)
            for h in (1, 2):
                # `ip netns exec` execs the agent: the Popen's pid is the agent's.
                self.agents.append(subprocess.Popen(
                    ["ip", "netns", "exec", self.netns(h), f"{self.build}/bin/ionet-agent",
                     "--pool", self.file, "--host-name", f"h{h}", "--no-gpu-check"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            deadline = time.time() + 30
            while subprocess.run(["ip", "netns", "exec", self.netns(1),
                                  f"{self.build}/bin/ionet-run", "--pool", self.file, "-np", "2",
                                  "-N", "1", "true"], capture_output=True,
                                 timeout=60).returncode != 0:  # ready when a job reaches both
                if time.time() > deadline:
                    raise RuntimeError("pool agents did not come up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        crashed = []
        for a in self.agents:
            a.terminate()
            status = a.wait(timeout=10)
            # SIGTERM or a clean exit; anything else (a crash on the way out) fails the bench.
            if status not in (0, -signal.SIGTERM):
                crashed.append(f"pool agent {a.args[-2]}: {status}")
        self.agents = []
        sh(WANEMU, "down", self.name, check=False)
        if crashed:
            sys.exit(f"{self.name}: pool agents did not stop cleanly on SIGTERM: " +
                     ", ".join(crashed))
        return False
