"""The fallback rows: ops with no kernel, or documented limits, on a target.

A row that works around a documented limit names its row of ``npu_compat.npu_releases.limits``
(``limit=``), takes its reason from there, and is installed only for the torch_npu releases that
row holds for. Each row is read by ``docs/fallbacks.md``; keep the two in step. On cpu and cuda no
row here applies (those backends have every kernel): tests declare their own rows for the cpu target.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from npu_compat.fallbacks.registry import Action, FallbackRule, arg_given, dtype_in
from npu_compat.npu_releases.limits import BY_NAME

NPU = ("npu",)


def _limit_why(name: str) -> str:
    row = BY_NAME[name]
    return f"torch_npu {row.text} ({', '.join(row.releases)}: {row.source})"


def _scale_factor_to_size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``interpolate(x, scale_factor=s)`` -> ``interpolate(x, size=floor(in * s))``, as torch computes it."""
    names = ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
    bound = dict(zip(names, args))
    bound.update(kwargs)
    x, scale = bound["input"], bound.pop("scale_factor")
    spatial = x.shape[2:]
    scales = list(scale) if isinstance(scale, (list, tuple)) else [scale] * len(spatial)
    bound["size"] = [int(math.floor(float(n) * float(s))) for n, s in zip(spatial, scales)]
    bound.pop("recompute_scale_factor", None)
    return (bound.pop("input"),), bound


def _sorted_topk(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``topk(..., sorted=False)`` -> ``sorted=True``: a sorted answer is a valid unsorted one."""
    if len(args) > 4:
        return args[:4] + (True,) + args[5:], kwargs
    return args, {**kwargs, "sorted": True}


FALLBACK_TABLE: tuple[FallbackRule, ...] = (
    FallbackRule(
        op="torchvision.roi_align", targets=NPU, action=Action.CPU, owner="torchvision.ops", attr="roi_align",
        aliases=("torchvision.ops.roi_align:roi_align",),
        why="torchvision registers no NPU kernel for roi_align (used by sam3's geometry encoder for box prompts)",
        cost="boxes and the feature map copied to the host and the result back, per call",
    ),
    FallbackRule(
        op="torchvision.nms", targets=NPU, action=Action.CPU, owner="torchvision.ops", attr="nms",
        aliases=("torchvision.ops.boxes:nms",),
        why="torchvision registers no NPU kernel for nms",
        cost="boxes and scores to the host, kept indices back; small tensors",
    ),
    FallbackRule(
        op="interpolate.scale_factor", targets=NPU, action=Action.REWRITE_ARGS, owner="torch.nn.functional",
        attr="interpolate", when=arg_given("scale_factor", 2), rewrite=_scale_factor_to_size,
        why=_limit_why("interpolate-scale_factor"), limit="interpolate-scale_factor",
        cost="none on device; exact for integer scales, for fractional ones equal to recompute_scale_factor=True",
    ),
    FallbackRule(
        op="grid_sample.bf16", targets=NPU, action=Action.CAST_UP, owner="torch.nn.functional", attr="grid_sample",
        when=dtype_in(torch.bfloat16), cast=(torch.bfloat16,), cast_to=torch.float32,
        why=_limit_why("grid_sample-bf16"), limit="grid_sample-bf16",
        cost="an fp32 copy of input and grid on device; result rounded back to bf16",
    ),
    FallbackRule(
        op="matmul.fp64", targets=NPU, action=Action.CPU, owner="torch", attr="matmul", when=dtype_in(torch.float64),
        why=_limit_why("matmul-fp64") + "; the function torch.matmul only, not the @ operator", limit="matmul-fp64",
        cost="host round trip and a CPU fp64 matmul",
    ),
    FallbackRule(
        op="sort.fp64", targets=NPU, action=Action.CPU, owner="torch", attr="sort", when=dtype_in(torch.float64),
        why=_limit_why("sort-fp64"), limit="sort-fp64",
        cost="host round trip and a CPU sort",
    ),
    FallbackRule(
        op="topk.unsorted", targets=NPU, action=Action.REWRITE_ARGS, owner="torch", attr="topk",
        when=arg_given("sorted", 4, unless=True), rewrite=_sorted_topk,
        why=_limit_why("topk-unsorted"), limit="topk-unsorted",
        cost="none beyond sorting k values; the order becomes sorted, which sorted=False allows",
    ),
)


__all__ = ["FALLBACK_TABLE"]
