"""A transformers model built from a config (no download), used the CUDA way: .to("cuda"),
inputs created on "cuda", fp16 autocast with no dtype given... as many scripts write it."""
import torch
from transformers import BertConfig, BertModel

config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=32)
model = BertModel(config).to("cuda").eval()
ids = torch.randint(0, 100, (2, 8), device="cuda")
mask = torch.ones(2, 8, dtype=torch.long, device="cuda")
with torch.no_grad(), torch.autocast(device_type="cuda"):
    out = model(input_ids=ids, attention_mask=mask).last_hidden_state
torch.cuda.synchronize()
print(f"bert on {out.device.type}, output {tuple(out.shape)} {str(out.dtype).replace('torch.', '')}")
