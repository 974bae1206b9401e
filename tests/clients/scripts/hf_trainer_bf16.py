"""A Hugging Face Trainer run set up for a GPU: TrainingArguments(bf16=True), as fine-tuning
scripts write it for Ampere+ GPUs. A tiny BERT built from a config (no download), 2 steps."""
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
import sys

config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=32, num_labels=2)
model = BertForSequenceClassification(config)
torch.manual_seed(0)
data = [{"input_ids": torch.randint(0, 100, (8,)), "labels": torch.tensor(i % 2)} for i in range(8)]
args = TrainingArguments(output_dir=sys.argv[1], bf16=True, per_device_train_batch_size=4, max_steps=2,
                         report_to=[], save_strategy="no", logging_strategy="no", dataloader_num_workers=0)
result = Trainer(model=model, args=args, train_dataset=data).train()
print(f"trained {result.global_step} steps on {args.device.type}, n_gpu {args.n_gpu}, bf16 {args.bf16}")
