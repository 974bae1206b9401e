"""nanoGPT's train.py then sample.py, on ``device = 'cuda'``: ``python nanogpt_lines.py train|sample OUT_DIR``.

Restated from github.com/karpathy/nanoGPT (MIT License, Copyright (c) 2022 Andrej Karpathy). Verbatim:
train.py's "system" settings, ``get_batch`` (pinned host batches moved with ``non_blocking=True``),
``estimate_loss``, the fused-AdamW choice of ``GPT.configure_optimizers``, the training step with its
``ctx`` and ``GradScaler``, and the checkpoint it writes; sample.py's ``torch.load(ckpt_path,
map_location=device)``, its ``_orig_mod.`` prefix fix, ``model.to(device)`` and its generation
(``GPT.generate``). Changed: a two-layer model stands in for ``GPT``, the data is a random token array
made here instead of a ``.bin`` memmap, and there is no ``torch.compile`` (``compile = False``).
"""
import os
import sys
import time
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F

mode, out_dir = sys.argv[1], sys.argv[2]
block_size, batch_size, eval_iters, max_iters = 8, 4, 2, 4
learning_rate, betas, grad_clip = 1e-3, (0.9, 0.95), 1.0
max_new_tokens, temperature, top_k, num_samples = 5, 0.8, 200, 1
compile = False

# -- nanoGPT train.py / sample.py, "system" settings
device = 'cuda' # examples: 'cpu', 'cuda', 'cuda:0', 'cuda:1' etc., or try 'mps' on macbooks
dtype = 'bfloat16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'float16' # 'float32', 'bfloat16', or 'float16', the latter will auto implement a GradScaler
torch.manual_seed(1337)
torch.backends.cuda.matmul.allow_tf32 = True # allow tf32 on matmul
torch.backends.cudnn.allow_tf32 = True # allow tf32 on cudnn
device_type = 'cuda' if 'cuda' in device else 'cpu' # for later use in torch.autocast
# note: float16 data type will automatically use a GradScaler
ptdtype = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}[dtype]
ctx = nullcontext() if device_type == 'cpu' else torch.amp.autocast(device_type=device_type, dtype=ptdtype)


class TinyLM(torch.nn.Module):  # stands in for nanoGPT's GPT(gptconf)
    def __init__(self, vocab_size: int = 32, n_embd: int = 16) -> None:
        super().__init__()
        self.block_size = block_size
        self.wte = torch.nn.Embedding(vocab_size, n_embd)
        self.lm_head = torch.nn.Linear(n_embd, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.lm_head(torch.tanh(self.wte(idx)))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):  # nanoGPT's GPT.generate
        for _ in range(max_new_tokens):
            # if the sequence context is growing too long we must crop it at block_size
            idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size:]
            # forward the model to get the logits for the index in the sequence
            logits, _ = self(idx_cond)
            # pluck the logits at the final step and scale by desired temperature
            logits = logits[:, -1, :] / temperature
            # optionally crop the logits to only the top k options
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float('Inf')
            # apply softmax to convert logits to (normalized) probabilities
            probs = F.softmax(logits, dim=-1)
            # sample from the distribution
            idx_next = torch.multinomial(probs, num_samples=1)
            # append sampled index to the running sequence and continue
            idx = torch.cat((idx, idx_next), dim=1)

        return idx


data = np.random.RandomState(0).randint(0, 32, 256).astype(np.uint16)  # stands in for the train.bin memmap

def get_batch(split):
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([torch.from_numpy((data[i:i+block_size]).astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy((data[i+1:i+1+block_size]).astype(np.int64)) for i in ix])
    if device_type == 'cuda':
        # pin arrays x,y, which allows us to move them to GPU asynchronously (non_blocking=True)
        x, y = x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    else:
        x, y = x.to(device), y.to(device)
    return x, y

@torch.no_grad()
def estimate_loss():
    out = {}
    model.eval()
    for split in ['train', 'val']:
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            X, Y = get_batch(split)
            with ctx:
                logits, loss = model(X, Y)
            losses[k] = loss.item()
        out[split] = losses.mean()
    model.train()
    return out


if mode == "train":
    os.makedirs(out_dir, exist_ok=True)
    model_args = dict(vocab_size=32, n_embd=16)
    model = TinyLM(**model_args)
    model.to(device)
    # initialize a GradScaler. If enabled=False scaler is a no-op
    scaler = torch.cuda.amp.GradScaler(enabled=(dtype == 'float16'))
    # GPT.configure_optimizers: use the fused version if it is available
    import inspect
    fused_available = 'fused' in inspect.signature(torch.optim.AdamW).parameters
    use_fused = fused_available and device_type == 'cuda'
    extra_args = dict(fused=True) if use_fused else dict()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=betas, **extra_args)
    print(f"using fused AdamW: {use_fused}")
    X, Y = get_batch('train')
    raw_model = model
    for iter_num in range(max_iters + 1):
        t0 = time.time()
        if iter_num == max_iters:
            losses = estimate_loss()
            print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
            best_val_loss = losses['val']
            checkpoint = {
                'model': raw_model.state_dict(),
                'optimizer': optimizer.state_dict(),
                'model_args': model_args,
                'iter_num': iter_num,
                'best_val_loss': best_val_loss,
                'config': {'device': device, 'dtype': dtype},
            }
            print(f"saving checkpoint to {out_dir}")
            torch.save(checkpoint, os.path.join(out_dir, 'ckpt.pt'))
            break
        with ctx:
            logits, loss = model(X, Y)
        # immediately async prefetch next batch while model is doing the forward pass on the GPU
        X, Y = get_batch('train')
        # backward pass, with gradient scaling if training in fp16
        scaler.scale(loss).backward()
        # clip the gradient
        if grad_clip != 0.0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        # step the optimizer and scaler if training in fp16
        scaler.step(optimizer)
        scaler.update()
        # flush the gradients as soon as we can, no need for this memory anymore
        optimizer.zero_grad(set_to_none=True)
        # get loss as float. note: this is a CPU-GPU sync point
        lossf = loss.item()
        print(f"iter {iter_num}: loss {lossf:.4f}, time {(time.time() - t0)*1000:.2f}ms")
else:
    # -- nanoGPT sample.py, init_from == 'resume'
    ckpt_path = os.path.join(out_dir, 'ckpt.pt')
    checkpoint = torch.load(ckpt_path, map_location=device)
    model = TinyLM(**checkpoint['model_args'])
    state_dict = checkpoint['model']
    unwanted_prefix = '_orig_mod.'
    for k,v in list(state_dict.items()):
        if k.startswith(unwanted_prefix):
            state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
    model.load_state_dict(state_dict)
    model.eval()
    model.to(device)
    if compile:
        model = torch.compile(model) # requires PyTorch 2.0 (optional)
    start_ids = [1, 2, 3]
    x = (torch.tensor(start_ids, dtype=torch.long, device=device)[None, ...])
    # run generation
    with torch.no_grad():
        with ctx:
            for k in range(num_samples):
                y = model.generate(x, max_new_tokens, temperature=temperature, top_k=top_k)
                print(f"sampled {len(y[0].tolist())} tokens on {y.device}")
