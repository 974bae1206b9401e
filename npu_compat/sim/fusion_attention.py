"""``torch_npu.npu_fusion_attention`` on the simulated npu: a TEST DOUBLE of the Ascend kernel.

It computes what torch_npu's documentation says the kernel computes, on the host, so that the kit's
fused-attention rule can be compared with ``F.scaled_dot_product_attention`` without hardware. It
says nothing about the kernel's own rounding or speed.

Documented semantics implemented here:

- ``input_layout`` is one of ``BSH``, ``SBH``, ``BSND``, ``BNSD`` (``TND``, the variable-length
  layout, is refused: the stand-in does not model it);
- ``scale`` multiplies ``query @ key^T`` and defaults to 1.0 (not ``1/sqrt(D)``);
- ``pse`` is added to the scaled scores;
- ``atten_mask`` is boolean (or uint8) and **True means masked out**, the opposite of SDPA's
  boolean mask; it broadcasts from ``[S, S]``, ``[1, 1, S, S]``, ``[B, 1, S, S]`` or ``[B, N, S, S]``;
- with ``sparse_mode=0``, ``pre_tockens``/``next_tockens`` keep a band of keys around each query;
- softmax in fp32; ``keep_prob < 1`` drops probabilities as dropout does;
- the result is a 7-tuple: output (the query's layout and dtype), softmax_max and softmax_sum
  (``[B, N, Sq, 8]``, fp32), softmax_out (empty), seed, offset, numels.
"""
from __future__ import annotations

from typing import Any

import torch

LAYOUTS = ("BSH", "SBH", "BSND", "BNSD")
_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
_MAX_TOKENS = 2147483647


def _to_bnsd(x: torch.Tensor, layout: str, heads: int) -> torch.Tensor:
    if layout == "BNSD":
        return x
    if layout == "BSND":
        return x.transpose(1, 2)
    if layout == "SBH":
        x = x.transpose(0, 1)
    return x.reshape(x.shape[0], x.shape[1], heads, x.shape[2] // heads).transpose(1, 2)


def _from_bnsd(x: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "BNSD":
        return x
    if layout == "BSND":
        return x.transpose(1, 2)
    b, n, s, d = x.shape
    x = x.transpose(1, 2).reshape(b, s, n * d)
    return x.transpose(0, 1) if layout == "SBH" else x


def _refuse(what: str) -> ValueError:
    return ValueError(f"npu_fusion_attention (simulated npu): {what}")


def _band(sq: int, skv: int, pre: int, nxt: int, device: torch.device) -> torch.Tensor | None:
    """True where a key lies outside the band [i - pre_tockens, i + next_tockens] of query i."""
    if pre >= skv and nxt >= skv:
        return None
    i = torch.arange(sq, device=device).unsqueeze(1)
    j = torch.arange(skv, device=device).unsqueeze(0)
    return (j - i > nxt) | (i - j > pre)


def npu_fusion_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, head_num: int,
                         input_layout: str, pse: torch.Tensor | None = None, padding_mask: Any = None,
                         atten_mask: torch.Tensor | None = None, scale: float = 1.0, keep_prob: float = 1.0,
                         pre_tockens: int = _MAX_TOKENS, next_tockens: int = _MAX_TOKENS, inner_precise: int = 0,
                         prefix: Any = None, actual_seq_qlen: Any = None, actual_seq_kvlen: Any = None,
                         sparse_mode: int = 0, gen_mask_parallel: bool = True, sync: bool = False) -> tuple:
    if input_layout not in LAYOUTS:
        raise _refuse(f"input_layout {input_layout!r} is not modelled (the stand-in has {', '.join(LAYOUTS)})")
    if sparse_mode != 0:
        raise _refuse(f"sparse_mode {sparse_mode} is not modelled (the stand-in has 0)")
    if padding_mask is not None:
        raise _refuse("padding_mask is reserved and must be None")
    if not (query.dtype == key.dtype == value.dtype) or query.dtype not in _DTYPES:
        raise _refuse(f"query, key and value must share one of fp16/bf16/fp32, got "
                      f"{query.dtype}, {key.dtype}, {value.dtype}")
    q, k, v = (_to_bnsd(t, input_layout, head_num) for t in (query, key, value))
    if q.shape[1] != head_num:
        raise _refuse(f"head_num {head_num} does not match the query's {q.shape[1]} heads")
    if q.shape[1] % k.shape[1]:
        raise _refuse(f"query heads {q.shape[1]} are not a multiple of key heads {k.shape[1]}")
    if k.shape[1] != q.shape[1]:  # grouped-query attention: each key head serves a group of query heads
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * scale
    if pse is not None:
        scores = scores + pse.float()
    masked = None
    if atten_mask is not None:
        if atten_mask.dtype not in (torch.bool, torch.uint8):
            raise _refuse(f"atten_mask must be bool or uint8 (True masks out), got {atten_mask.dtype}")
        masked = atten_mask.bool()
    band = _band(q.shape[2], k.shape[2], pre_tockens, next_tockens, q.device)
    if band is not None:
        masked = band if masked is None else (masked | band)
    if masked is not None:
        scores = scores.masked_fill(masked, float("-inf"))
    row_max = scores.amax(dim=-1, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    exp = torch.exp(scores - row_max)
    row_sum = exp.sum(dim=-1, keepdim=True)
    probs = exp / torch.where(row_sum > 0, row_sum, torch.ones_like(row_sum))
    if keep_prob < 1.0:
        probs = torch.nn.functional.dropout(probs, p=1.0 - keep_prob)
    out = torch.matmul(probs, v.float()).to(query.dtype)
    stats = (row_max.expand(*row_max.shape[:-1], 8).contiguous(), row_sum.expand(*row_sum.shape[:-1], 8).contiguous())
    empty = torch.empty(0, dtype=query.dtype, device=query.device)
    return (_from_bnsd(out, input_layout), stats[0], stats[1], empty, 0, 0, 0)
