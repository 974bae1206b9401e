"""Hugging Face Trainer settings written for a GPU, on the cpu target (``--no-pack hf_trainer`` leaves it out).

``TrainingArguments(bf16=True)`` asks for bf16 mixed precision on the GPU. transformers is one of
the libraries that see the truth about CUDA (rules/availability.py), so on the cpu target it finds
no GPU and refuses ("Your setup doesn't support bf16/gpu. You need to assign use_cpu...").
The row below does what that message asks, for the cpu target only: ``use_cpu=True``, and the
bf16 regions follow the autocast policy as the script's own "cuda" regions do (on a CPU without
native bf16 the default policy runs them in fp32, and the report says so).
"""
from __future__ import annotations

import functools
from typing import Any

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.rule_packs import RulePack
from npu_compat.rules.amp import region_dtype
from npu_compat.target import Target


def _post_init(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    dtype = region_dtype(ctx, torch.bfloat16)

    @functools.wraps(original)
    def __post_init__(self: Any) -> None:
        if not self.use_cpu and (self.bf16 or self.bf16_full_eval) and not torch.cuda.is_available():
            self.use_cpu = True
            if dtype is None:
                self.bf16 = self.bf16_full_eval = False
            # depth 3: the script's line, above the dataclass __init__ that calls __post_init__
            hit(key, cat, "bf16=True on cuda", "use_cpu=True, " + ("fp32 (autocast off)" if dtype is None else "bf16"),
                depth=3)
        original(self)

    return __post_init__


def _rules(target: Target) -> list[Rule]:
    if target.type != "cpu":
        return []
    return [Rule("hf_trainer.TrainingArguments.bf16", "transformers.training_args.TrainingArguments", "__post_init__",
                 _post_init, Category.MODIFIED,
                 "bf16=True meant the GPU: use_cpu=True on the cpu target, the bf16 regions under the autocast policy",
                 lazy=True)]


PACK = RulePack("hf_trainer", _rules, "Hugging Face Trainer: GPU mixed-precision settings on the cpu target")
