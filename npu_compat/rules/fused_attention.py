"""Fused attention on the npu target: ``F.scaled_dot_product_attention`` -> ``torch_npu.npu_fusion_attention``.

Off by default; ``--fused-attention`` (``ShimOptions.fused_attention``) turns it on. sam3's own
attention (``vitdet``, ``sam.transformer``) and ``nn.MultiheadAttention`` call SDPA through
``torch.nn.functional``, so this one row reaches all of them.

A call goes to the fused kernel only where it computes the same thing (:func:`fusion_plan`): 4-D
query/key/value in SDPA's ``[B, N, S, D]`` on the npu, fp16 or bf16, the same heads and head size,
no dropout, not causal, and either no mask or a boolean mask. The kernel takes BSND (the views are
transposed, as diffusers' ``_native_npu`` backend does), a scale of 1.0 unless told (SDPA's default
``1/sqrt(D)`` is passed explicitly), and a boolean mask where **True masks out**: SDPA's mask is
inverted and expanded to ``[B, 1, Sq, Skv]`` (``[B, N, Sq, Skv]`` when it varies by head). Every
other call (float masks, fp32, causal, dropout, other shapes) runs SDPA unchanged.

Known silent bug guarded here: ``npu_fused_infer_attention_score`` with TND layout, ``sparse_mode=0``
and no mask returns a uniform average (reported 2026-08). This rule never calls that kernel, and
:class:`FusionCall` refuses that combination of arguments whatever the kernel.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import torch

from npu_compat import npu
from npu_compat.errors import RuleError
from npu_compat.patcher import Category, Context, Rule
from npu_compat.shim_options import ShimOptions
from npu_compat.target import Target

FUSED_DTYPES = (torch.float16, torch.bfloat16)
MAX_HEAD_DIM = 512  # the kernel's documented limit on D
MAX_TOKENS = 2147483647  # pre/next_tockens that keep every key (no band)
LAYOUT = "BSND"
_SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
_SDPA_DEFAULTS = {"attn_mask": None, "dropout_p": 0.0, "is_causal": False, "scale": None, "enable_gqa": False}


@dataclass(frozen=True)
class FusionCall:
    """The arguments of one fused-kernel call (tensors excluded)."""

    head_num: int
    scale: float
    atten_mask: torch.Tensor | None
    input_layout: str = LAYOUT
    sparse_mode: int = 0

    def __post_init__(self) -> None:
        if self.input_layout == "TND" and self.sparse_mode == 0 and self.atten_mask is None:
            raise RuleError("fused attention: TND layout with sparse_mode 0 and no mask gives a silently wrong "
                            "result on torch_npu (a uniform average)", "use BSND, or pass a mask")


def _npu_mask(mask: torch.Tensor, b: int, n: int, sq: int, skv: int) -> torch.Tensor:
    """SDPA's boolean mask (True attends) as the kernel's (True masks out), ``[B, 1|N, Sq, Skv]``."""
    while mask.dim() < 4:
        mask = mask.unsqueeze(0)
    heads = n if mask.shape[1] != 1 else 1
    return (~mask).expand(b, heads, sq, skv)


def fusion_plan(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False) -> FusionCall | str:
    """The fused call for these SDPA arguments, or the reason it stays SDPA."""
    tensors = (query, key, value)
    if not all(isinstance(t, torch.Tensor) and t.dim() == 4 for t in tensors):
        return "query/key/value are not 4-D tensors"
    if query.device.type != "npu":
        return f"tensors on {query.device.type}, not npu"
    if not (query.dtype == key.dtype == value.dtype) or query.dtype not in FUSED_DTYPES:
        return f"dtype {query.dtype} (fused kernel here: fp16, bf16)"
    b, n, sq, d = query.shape
    if key.shape[:2] != (b, n) or value.shape[:2] != (b, n) or key.shape[2] != value.shape[2]:
        return "batch, heads or key length differ between query, key and value"
    if key.shape[3] != d or value.shape[3] != d or d > MAX_HEAD_DIM:
        return f"head sizes {d}/{key.shape[3]}/{value.shape[3]} (fused: equal and <= {MAX_HEAD_DIM})"
    if dropout_p or is_causal or enable_gqa:
        return "dropout, causal or grouped-query attention"
    mask = None
    if attn_mask is not None:
        if not isinstance(attn_mask, torch.Tensor) or attn_mask.dtype != torch.bool or attn_mask.dim() > 4:
            return "mask is not a boolean tensor of at most 4 dimensions"
        try:
            torch.broadcast_shapes(attn_mask.shape, (b, n, sq, key.shape[2]))
        except RuntimeError:
            return f"mask shape {tuple(attn_mask.shape)} does not broadcast to the scores"
        mask = _npu_mask(attn_mask, b, n, sq, key.shape[2])
    return FusionCall(head_num=n, scale=1.0 / math.sqrt(d) if scale is None else float(scale), atten_mask=mask)


def run_fused(kernel: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, call: FusionCall) -> torch.Tensor:
    """Run the fused kernel in BSND and hand back SDPA's ``[B, N, Sq, D]``."""
    out = kernel(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), call.head_num,
                 input_layout=call.input_layout, atten_mask=call.atten_mask, scale=call.scale, keep_prob=1.0,
                 pre_tockens=MAX_TOKENS, next_tockens=MAX_TOKENS, sparse_mode=call.sparse_mode)[0]
    return out.transpose(1, 2)


def _sdpa_to_fused(ctx: Context, rule: Rule, original: Any) -> Any:
    kernel = getattr(npu.load_torch_npu(), "npu_fusion_attention", None)
    if kernel is None:
        return original
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def scaled_dot_product_attention(*args: Any, **kwargs: Any) -> Any:
        if len(args) > len(_SDPA_ARGS) or set(kwargs) - set(_SDPA_ARGS):
            return original(*args, **kwargs)
        bound = {**_SDPA_DEFAULTS, **dict(zip(_SDPA_ARGS, args)), **kwargs}
        call = fusion_plan(**bound)
        if isinstance(call, str):
            return original(*args, **kwargs)
        hit(key, cat, "scaled_dot_product_attention", "npu_fusion_attention")
        return run_fused(kernel, bound["query"], bound["key"], bound["value"], call)

    return scaled_dot_product_attention


def fused_attention_rules(target: Target, options: ShimOptions | None) -> list[Rule]:
    """The row, for the npu target when the session's options turn it on."""
    if target.type != "npu" or options is None or not options.fused_attention:
        return []
    return [
        Rule("attention.fused", "torch.nn.functional", "scaled_dot_product_attention", _sdpa_to_fused,
             Category.MODIFIED, "with --fused-attention: fp16/bf16 SDPA calls with no mask or a boolean mask "
             "run torch_npu.npu_fusion_attention (BSND, mask inverted and expanded); others unchanged",
             check_signature=False,
             unchecked="SDPA is a C builtin; the replacement takes (*args, **kwargs) and passes every call it "
                       "does not fuse to the original unchanged"),
    ]
