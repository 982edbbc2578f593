"""Two emulated hosts (network namespaces through tests/wanemu/wanemu) with a pool agent each,
no delay, one slot each, for bench/datapath and bench/nccl (the two-host form of wan_pool.py):

    with TwoHostPool(build, "dpbench") as pool:
        run ionet-run --pool pool.file in pool.netns(1) ...

On leaving, the agents get SIGTERM and must stop cleanly (anything else fails the bench), and the
emulated WAN is taken down.
"""
from wan_pool import WANEMU, WanPool  # noqa: F401  (WANEMU: for the benches that import it here)


class TwoHostPool(WanPool):
    def __init__(self, build, name):
        super().__init__(build, name, hosts=2, slots=1)
