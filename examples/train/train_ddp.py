#!/usr/bin/python3
"""train_ddp: the PyTorch (DDP, Gloo) variant of examples/train/train.c. It does not link
libionet-ckpt; it uses ionet's environment contract:

  IONET_CHECKPOINT_DIR   where to write checkpoint sets
  IONET_RESUME_FROM      the newest set ionet-run verified (absent on a fresh start)
  IONET_RESTART_COUNT    how many times the job was restarted (also TORCHELASTIC_RESTART_COUNT)

Each rank writes its model and optimizer state as an ordinary HDF5 file (h5py) into the set
`ionet-ckpt begin` prepared; once every rank's file is durable (an all_reduce of "my file is
fine"), rank 0 runs `ionet-ckpt commit`, which checksums the files, writes the MANIFEST and
publishes the set with the library's protocol. So ionet-run can verify these sets like the C
program's, and a resumed run ends with the same weights, bit for bit, as one that never failed.

  train_ddp.py [STEPS [EVERY]]      defaults 60 steps, a checkpoint every 10

Determinism: the same initial model everywhere, each rank's batch from a generator seeded by
(rank, step), plain SGD with momentum whose buffers are checkpointed too."""
import hashlib
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.distributed as dist

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 60
every = int(sys.argv[2]) if len(sys.argv) > 2 else 10
ckpt_dir = os.environ.get("IONET_CHECKPOINT_DIR")
resume = os.environ.get("IONET_RESUME_FROM")
# The ionet-ckpt command: $IONET_CKPT_TOOL, else the one on PATH (installed beside ionet-run).
ionet_ckpt = os.environ.get("IONET_CKPT_TOOL", "ionet-ckpt")

dist.init_process_group("gloo", init_method="env://")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
ddp = torch.nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)


def all_ok(ok):
    """True on every rank when ok is True on every rank (the protocol's "all valid")."""
    flag = torch.tensor([1 if ok else 0], dtype=torch.int32)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def save(step):
    tmp = os.path.join(ckpt_dir, f"step-{step}.tmp")
    if rank == 0:
        subprocess.run([ionet_ckpt, "begin", ckpt_dir, str(step)], check=True,
                       stdout=subprocess.DEVNULL)
    dist.barrier()
    ok = True
    try:
        path = os.path.join(tmp, f"rank-{rank}.h5")
        with h5py.File(path, "w-") as f:
            f.attrs["step"] = np.int64(step)
            f.attrs["rank"] = np.int32(rank)
            f.attrs["nranks"] = np.int32(world)
            for i, p in enumerate(model.parameters()):
                f[f"param/{i}"] = p.detach().numpy()
                f[f"momentum/{i}"] = opt.state[p]["momentum_buffer"].numpy()
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    except OSError as e:
        print(f"train_ddp: rank {rank}: writing step {step}: {e}", file=sys.stderr, flush=True)
        ok = False
    if not all_ok(ok):
        raise SystemExit(f"train_ddp: step-{step} not committed: a rank failed to write")
    if rank == 0:
        subprocess.run([ionet_ckpt, "commit", ckpt_dir, str(step), "--nranks", str(world)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"checkpoint step {step}", flush=True)
    dist.barrier()  # no rank goes on before the set is durable


def load(set_dir):
    with h5py.File(os.path.join(set_dir, f"rank-{rank}.h5"), "r") as f:
        for i, p in enumerate(model.parameters()):
            p.data.copy_(torch.from_numpy(f[f"param/{i}"][()]))
            opt.state[p]["momentum_buffer"] = torch.from_numpy(f[f"momentum/{i}"][()])
        return int(f.attrs["step"])


start = load(resume) if resume else 0
if resume and rank == 0:
    print(f"resumed from step {start} ({resume})", flush=True)
for step in range(start, steps):
    data = torch.Generator().manual_seed(1000003 * rank + step)
    x = torch.randn(32, 16, generator=data)
    y = x.sum(dim=1, keepdim=True)
    opt.zero_grad()
    torch.nn.functional.mse_loss(ddp(x), y).backward()
    opt.step()
    if ckpt_dir and ((step + 1) % every == 0 or step + 1 == steps):
        save(step + 1)
    if rank == 0:
        print(f"step {step + 1}", flush=True)
flat = torch.cat([p.detach().flatten() for p in model.parameters()])
if rank == 0:
    digest = hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16]
    print(f"final weights checksum {digest}", flush=True)
dist.destroy_process_group()
