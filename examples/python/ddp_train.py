#!/usr/bin/python3
"""ddp_train: PyTorch DDP (Gloo, env:// rendezvous as torchrun sets it) training a small model
for a few steps on per-rank data; prints each rank's final parameters' checksum and whether all
ranks hold identical parameters (all_gather), so a launcher test can compare them."""
import sys

import torch
import torch.distributed as dist

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
dist.init_process_group("gloo", init_method="env://")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)  # same initial model everywhere
model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
ddp = torch.nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
data = torch.Generator().manual_seed(1000 + rank)  # different data on every rank
for step in range(steps):
    x = torch.randn(32, 16, generator=data)
    y = x.sum(dim=1, keepdim=True)
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(ddp(x), y)
    loss.backward()
    opt.step()
flat = torch.cat([p.detach().flatten() for p in model.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(world)]
dist.all_gather(gathered, flat)
identical = all(torch.equal(gathered[0], t) for t in gathered)
print(f"ddp rank {rank} of {world} steps {steps} checksum {flat.double().sum().item():.12f} "
      f"identical {identical}", flush=True)
dist.destroy_process_group()
sys.exit(0 if identical else 1)
