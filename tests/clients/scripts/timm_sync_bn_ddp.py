"""timm's train.py distributed path with --sync-bn, restated: run under torchrun, one process per GPU.

Restated from huggingface/pytorch-image-models (Apache-2.0): timm.utils.init_distributed_device
picks cuda:LOCAL_RANK and nccl; train.py then does `model.cuda()`, `convert_sync_batchnorm`
when --sync-bn is given, and wraps the model in DDP(device_ids=[device]). Two steps of training.
"""
import torch
import torch.distributed as dist
from timm import create_model
from timm.layers import convert_sync_batchnorm
from timm.utils import init_distributed_device
from torch.nn.parallel import DistributedDataParallel as NativeDDP


class Args:  # the attributes of train.py's argparse namespace that init_distributed_device reads
    device = "cuda"
    dist_backend = "nccl"
    dist_url = "env://"
    no_ddp_bb = False


args = Args()
device = init_distributed_device(args)  # torch.cuda.set_device + init_process_group("nccl")
model = create_model("resnet10t", num_classes=4)
model.cuda()  # train.py: model.to(device=device)
model = convert_sync_batchnorm(model)  # --sync-bn
model = NativeDDP(model, device_ids=[device])
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
torch.manual_seed(args.rank)
for step in range(2):
    x = torch.randn(4, 3, 32, 32, device=device)
    y = torch.randint(0, 4, (4,), device=device)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
bn = [m for m in model.modules() if isinstance(m, torch.nn.SyncBatchNorm)]
print(f"rank {args.rank}/{args.world_size} on {device}: {len(bn)} SyncBatchNorm layers, loss {loss.item():.3f}", flush=True)
dist.destroy_process_group()
