"""SAM3 under the autocast policy (``--autocast``, see ``npu_compat/rules/amp.py``).

``Sam3ImageOnVideoMultiGPU._build_multigpu_buffer_next_chunk`` casts the SAM2 neck features to
bf16 unconditionally before ``_gather_tensor``, relying on a bf16 autocast around everything that
follows. Under a policy where sam3's bf16 regions run in another dtype (fp32 on a CPU without
native bf16), those bf16 features then meet fp32 conv weights and the video path fails
("Input type (c10::BFloat16) and bias type (float) should be the same"). This row sends that
cast to the policy's dtype: a bf16 tensor entering ``_gather_tensor`` leaves it in the dtype
the policy gives sam3's bf16 regions. Under a policy that keeps bf16 nothing changes.
"""
from __future__ import annotations

import functools
from typing import Any

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.rules.amp import region_dtype
from npu_compat.target import Target

NECK_OWNER = "sam3.model.sam3_image.Sam3ImageOnVideoMultiGPU"


def neck_dtype(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    want = region_dtype(ctx, torch.bfloat16) or torch.float32
    bf16 = torch.bfloat16

    @functools.wraps(original)
    def _gather_tensor(self: Any, x: Any) -> Any:
        if want is not bf16 and isinstance(x, torch.Tensor) and x.dtype is bf16:
            hit(key, cat, "bfloat16 neck features", str(want).replace("torch.", ""))
            x = x.to(want)
        return original(self, x)

    return _gather_tensor


def sam3_autocast_rules(target: Target) -> list[Rule]:
    """The rows that keep sam3's explicit bf16 casts in step with the autocast policy."""
    if target.type == "cuda":
        return []
    return [
        Rule("sam3.autocast.neck_dtype", NECK_OWNER, "_gather_tensor", neck_dtype, Category.MODIFIED,
             "the SAM2 neck features sam3 casts to bf16 follow the autocast policy's dtype for bf16 regions",
             lazy=True),
    ]


__all__ = ["sam3_autocast_rules", "neck_dtype"]
