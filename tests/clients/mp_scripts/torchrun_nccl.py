"""A torchrun worker written for CUDA: nccl, LOCAL_RANK as the device, one all_reduce."""
import os
import sys

import torch
import torch.distributed as dist

dist.init_process_group("nccl")
rank = dist.get_rank()
torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
t = torch.ones(2, device="cuda") * (rank + 1)
dist.all_reduce(t)
sys.stdout.write(f"RANK {rank} {dist.get_backend()} {t.tolist()}\n")  # one write: ranks share the pipe
sys.stdout.flush()
dist.destroy_process_group()
