"""Two processes train one step with SyncBatchNorm in DDP on the CPU; each compares its part with
plain BatchNorm over the whole batch. Prints one line per rank. Run through the shim (cpu target)
and plainly (torch refuses CPU input to a synchronising SyncBatchNorm)."""
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP


def run(rank: int, world: int, init_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    x = torch.randn(8, 3, 5, 5, requires_grad=True)
    bn = torch.nn.BatchNorm2d(3)
    whole = bn(x)  # the whole batch, in one process
    whole.square().sum().backward()
    model = DDP(torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm2d(3))))
    part = x.detach()[rank * 4:(rank + 1) * 4].clone().requires_grad_()
    out = model(part)
    out.square().sum().backward()
    sync = model.module[0]
    diffs = {
        "out": (out - whole[rank * 4:(rank + 1) * 4]).abs().max().item(),
        "input_grad": (part.grad - x.grad[rank * 4:(rank + 1) * 4]).abs().max().item(),
        "weight_grad": ((sync.weight.grad * world - bn.weight.grad) / bn.weight.grad.abs().max()).abs().max().item(),
        "running_var": (sync.running_var - bn.running_var).abs().max().item(),
    }
    sys.stdout.write(f"rank {rank} max diff " + " ".join(f"{k}={v:.2e}" for k, v in diffs.items()) + "\n")  # one write
    sys.stdout.flush()
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(run, args=(2, sys.argv[1]), nprocs=2)
