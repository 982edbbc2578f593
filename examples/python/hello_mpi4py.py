#!/usr/bin/python3
"""hello_mpi4py: mpi4py greeting plus an allreduce check, to show Python MPI jobs launch too."""
import sys

from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
print(f"mpi4py hello from rank {rank} of {size}", flush=True)

# Sum of 0..N-1 in closed form, independent of the MPI result.
total = comm.allreduce(rank)
ok = total == size * (size - 1) // 2
if rank == 0:
    if ok:
        print("mpi4py allreduce OK", flush=True)
    else:
        print(f"mpi4py allreduce FAILED got {total} expected {size * (size - 1) // 2}", flush=True)
sys.exit(0 if ok else 1)
