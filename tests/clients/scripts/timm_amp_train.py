"""A few training steps written for CUDA with timm's own utilities: a DataLoader with pinned
memory and workers, timm's PrefetchLoader (CUDA side stream), a timm model moved with .cuda(),
bf16 autocast and timm's NativeScaler (GradScaler on "cuda"), timm's ModelEmaV3 on "cuda"."""
import torch
from torch.utils.data import DataLoader, TensorDataset

import timm
from timm.data.loader import PrefetchLoader
from timm.optim import create_optimizer_v2
from timm.utils import ModelEmaV3, NativeScaler

device = torch.device("cuda")
torch.manual_seed(0)
torch.cuda.manual_seed_all(0)

images = torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8)
labels = torch.randint(0, 4, (8,))
loader = DataLoader(TensorDataset(images, labels), batch_size=4, num_workers=2, pin_memory=True)
loader = PrefetchLoader(loader, device=device)

model = timm.create_model("test_resnet", num_classes=4).cuda()
model = model.to(memory_format=torch.channels_last)
optimizer = create_optimizer_v2(model, "sgd", lr=0.01)
loss_scaler = NativeScaler(device="cuda")
ema = ModelEmaV3(model, decay=0.9, device="cuda")
loss_fn = torch.nn.CrossEntropyLoss().cuda()

losses = []
for step, (x, y) in enumerate(loader):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss_scaler(loss, optimizer, clip_grad=1.0, parameters=model.parameters())
    ema.update(model, step=step)
    torch.cuda.synchronize()
    losses.append(float(loss))
print(f"trained {len(losses)} steps on {next(model.parameters()).device.type}; "
      f"peak {torch.cuda.max_memory_allocated() >> 20} MiB; finite {all(l == l for l in losses)}")
