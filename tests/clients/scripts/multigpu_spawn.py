"""One process per GPU with mp.spawn, as written for a machine with several GPUs.

Restated from pytorch/examples (BSD-3-Clause), distributed/ddp-tutorial-series/multigpu.py: the
world size is `torch.cuda.device_count()`, each rank calls `torch.cuda.set_device(rank)`, joins
an nccl group and trains a DDP model on `cuda:rank`. minGPT-ddp, in the same folder, takes its
devices the same way. A tiny linear model and two steps stand in for the tutorial's Trainer.
"""
import os
import sys

import torch
import torch.multiprocessing as mp
from torch.distributed import destroy_process_group, init_process_group
from torch.nn.parallel import DistributedDataParallel as DDP


def ddp_setup(rank, world_size):
    os.environ["MASTER_ADDR"] = "localhost"
    os.environ["MASTER_PORT"] = sys.argv[1]
    torch.cuda.set_device(rank)
    init_process_group(backend="nccl", rank=rank, world_size=world_size)


def main(rank: int, world_size: int):
    ddp_setup(rank, world_size)
    model = DDP(torch.nn.Linear(20, 1).to(rank), device_ids=[rank])
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    for _ in range(2):
        source, targets = torch.randn(8, 20).to(rank), torch.randn(8, 1).to(rank)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(source), targets).backward()
        optimizer.step()
    print(f"[GPU{rank}] trained on {next(model.parameters()).device}, current device {torch.cuda.current_device()}",
          flush=True)
    destroy_process_group()


if __name__ == "__main__":
    world_size = torch.cuda.device_count()
    print(f"world size {world_size}", flush=True)
    mp.spawn(main, args=(world_size,), nprocs=world_size)
