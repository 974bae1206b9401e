"""CUDA-written mp.spawn job: nccl, tensors on "cuda", one all_reduce per rank."""
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank: int, world: int) -> None:
    dist.init_process_group("nccl", rank=rank, world_size=world)
    torch.cuda.set_device(rank)
    t = torch.ones(2, device="cuda") * (rank + 1)
    dist.all_reduce(t)
    sys.stdout.write(f"RANK {rank} {dist.get_backend()} {t.tolist()}\n")  # one write: ranks share the pipe
    sys.stdout.flush()
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    mp.spawn(worker, args=(2,), nprocs=2)
