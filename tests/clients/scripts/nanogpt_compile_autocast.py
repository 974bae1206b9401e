"""The device, dtype, autocast and torch.compile lines of nanoGPT's train.py, around a tiny model.

Restated from karpathy/nanoGPT (MIT License, train.py: the "system" settings, the ctx / scaler
setup, `model.to(device)`, `model = torch.compile(model)` and the training step). nanoGPT's
default backend is inductor; "aot_eager" keeps this test fast, and dynamo's global-state check,
the one that failed, runs for every backend. The model is a stand-in for nanoGPT's GPT.
"""
from contextlib import nullcontext

import torch
import torch.nn.functional as F

# -- nanoGPT train.py, "system" settings
device = 'cuda'  # examples: 'cpu', 'cuda', 'cuda:0', 'cuda:1' etc., or try 'mps' on macbooks
dtype = 'bfloat16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'float16'
compile = True  # use PyTorch 2.0 to compile the model to be faster
torch.manual_seed(1337)
torch.backends.cuda.matmul.allow_tf32 = True  # allow tf32 on matmul
torch.backends.cudnn.allow_tf32 = True  # allow tf32 on cudnn
device_type = 'cuda' if 'cuda' in device else 'cpu'  # for later use in torch.autocast
ptdtype = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}[dtype]
ctx = nullcontext() if device_type == 'cpu' else torch.amp.autocast(device_type=device_type, dtype=ptdtype)


class TinyLM(torch.nn.Module):  # stands in for nanoGPT's GPT(gptconf)
    def __init__(self, vocab: int = 32, width: int = 16) -> None:
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, width)
        self.lm_head = torch.nn.Linear(width, vocab)

    def forward(self, idx, targets=None):
        logits = self.lm_head(torch.tanh(self.wte(idx)))
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


model = TinyLM()
model.to(device)
scaler = torch.cuda.amp.GradScaler(enabled=(dtype == 'float16'))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
if compile:
    print("compiling the model... (takes a ~minute)")
    model = torch.compile(model, backend="aot_eager")

# -- the training step of train.py
X = torch.randint(0, 32, (4, 8), device=device)
Y = torch.randint(0, 32, (4, 8), device=device)
for iter_num in range(2):
    with ctx:
        logits, loss = model(X, Y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
print(f"iter {iter_num}: loss {loss.item():.4f}, logits {str(logits.dtype).replace('torch.', '')} on {logits.device.type}")
