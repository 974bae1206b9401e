"""Judge one device result against its golden by the standard of the op's class."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from npu_compat.parity.standards import OpClass, Thresholds, thresholds_for, ulp_of

PASS, FAIL = "pass", "fail"


@dataclass
class Judgement:
    verdict: str
    standard: str
    score: float                      # > 1 fails; the ratio of the worst metric to its limit
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def _as_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (bool, int, float, complex)):
        return torch.tensor(value)
    return None


def _exact(device: torch.Tensor, golden: torch.Tensor) -> Judgement:
    if device.is_floating_point() or device.is_complex():
        d, g = _wide(device), _wide(golden)
        same = (d == g) | (torch.isnan(d) & torch.isnan(g))
    else:
        same = device == golden
    mismatches = int((~same).sum()) if same.numel() else 0
    share = mismatches / max(same.numel(), 1)
    return Judgement(FAIL if mismatches else PASS, "bit-exact", 1.0 + share if mismatches else 0.0,
                     {"mismatches": float(mismatches), "mismatch_share": share},
                     f"{mismatches} of {same.numel()} elements differ" if mismatches else "")


def _wide(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(torch.complex128 if tensor.is_complex() else torch.float64)


def _common_metrics(d: torch.Tensor, g: torch.Tensor, limits: Thresholds) -> dict[str, float]:
    err = (d - g).abs()
    mag = g.abs()
    peak = float(mag.max()) if mag.numel() else 0.0
    rel = err / torch.clamp(mag, min=limits.small_value)
    dr = torch.view_as_real(d).reshape(-1) if d.is_complex() else d.reshape(-1)
    gr = torch.view_as_real(g).reshape(-1) if g.is_complex() else g.reshape(-1)
    norms = float(dr.norm()) * float(gr.norm())
    if norms > 0:
        cosine = float(torch.dot(dr, gr)) / norms
    else:
        cosine = 1.0 if float(dr.norm()) == float(gr.norm()) else 0.0
    max_err = float(err.max()) if err.numel() else 0.0
    return {"max_abs_err": max_err, "max_rel_err": float(rel.max()) if rel.numel() else 0.0,
            "cosine": cosine, "max_err_ratio": max_err / peak if peak > 0 else (0.0 if max_err == 0 else math.inf)}


def _allowed(mag: torch.Tensor, rtol: float, limits: Thresholds) -> torch.Tensor:
    """Per-element error bound: rtol * |golden|, or the small-value atol below small_value."""
    return torch.where(mag < limits.small_value, torch.full_like(mag, limits.small_atol), rtol * mag)


def judge_tensor(device: torch.Tensor, golden: torch.Tensor, op_class: OpClass) -> Judgement:
    """Compare one output tensor. ``device`` is in the device dtype, ``golden`` in a wider one."""
    if tuple(device.shape) != tuple(golden.shape):
        return Judgement(FAIL, "shape", math.inf, {},
                         f"shape {tuple(device.shape)} vs golden {tuple(golden.shape)}")
    if op_class is OpClass.EXACT or not (device.is_floating_point() or device.is_complex()):
        return _exact(device, golden)
    limits = thresholds_for(device.dtype)
    d, g = _wide(device), _wide(golden)
    if d.numel() == 0:
        return Judgement(PASS, op_class.value, 0.0, {}, "empty")
    d_fin, g_fin = torch.isfinite(d), torch.isfinite(g)
    nonfinite_bad = int((d_fin != g_fin).sum()) + int(((~d_fin) & (~g_fin) & (d != g) & ~(torch.isnan(d) & torch.isnan(g))).sum())
    both = d_fin & g_fin
    d, g = d[both], g[both]
    metrics = _common_metrics(d, g, limits) if d.numel() else {}
    metrics["nonfinite_mismatches"] = float(nonfinite_bad)
    judgement = _by_class(d, g, op_class, device.dtype, limits, metrics)
    if nonfinite_bad:
        judgement.verdict, judgement.score = FAIL, max(judgement.score, math.inf)
        judgement.reason = f"{nonfinite_bad} inf/nan positions differ; " + judgement.reason
    return judgement


def _by_class(d: torch.Tensor, g: torch.Tensor, op_class: OpClass, dtype: torch.dtype,
              limits: Thresholds, metrics: dict[str, float]) -> Judgement:
    if d.numel() == 0:
        return Judgement(PASS, op_class.value, 0.0, metrics)
    err, mag = (d - g).abs(), g.abs()
    if op_class is OpClass.ULP:
        ulp_err = err / ulp_of(mag, dtype)
        metrics["mean_ulp_err"] = float(ulp_err.mean())
        metrics["share_ulp_gt1"] = float((ulp_err > 1).double().mean())
        if dtype in (torch.float32, torch.float64, torch.complex64, torch.complex128):
            score = metrics["mean_ulp_err"] / limits.ulp_mean_max
            standard = f"ulp: mean ULP err < {limits.ulp_mean_max:g}"
        else:
            score = metrics["share_ulp_gt1"] / limits.ulp_share_gt1_max
            standard = f"ulp: share(ULP err > 1) < {limits.ulp_share_gt1_max:g}"
        return _verdict(standard, score, metrics)
    if op_class is OpClass.CONV:
        beyond = err > _allowed(mag, limits.conv_rtol, limits)
        metrics["share_beyond_rtol"] = float(beyond.double().mean())
        score = metrics["share_beyond_rtol"] / limits.conv_share_max
        return _verdict(f"conv: share(rel err > {limits.conv_rtol:g}) <= {limits.conv_share_max:g}", score, metrics)
    if op_class is OpClass.ELEMENTWISE:
        ratio = err / _allowed(mag, limits.rtol, limits)
        metrics["elements_beyond"] = float((ratio > 1).sum())
        standard = f"elementwise: rel err <= {limits.rtol:g} (atol {limits.small_atol:g} below {limits.small_value:g})"
        return _verdict(standard, float(ratio.max()), metrics)
    cos_score = (1.0 - metrics["cosine"]) / (1.0 - limits.cosine_min)
    score = max(cos_score, metrics["max_err_ratio"] / limits.max_err_ratio)
    return _verdict(f"cosine >= {limits.cosine_min:g} and max err <= {limits.max_err_ratio:g} x max|golden|",
                    score, metrics)


def _verdict(standard: str, score: float, metrics: dict[str, float]) -> Judgement:
    return Judgement(FAIL if score > 1.0 else PASS, standard, score, metrics)


def judge_value(device: Any, golden: Any, op_class: OpClass) -> Judgement:
    """Compare one output leaf of any kind (tensor, Python scalar, None)."""
    d, g = _as_tensor(device), _as_tensor(golden)
    if d is None or g is None:
        same = device == golden if d is None and g is None else False
        return Judgement(PASS if same else FAIL, "equal", 0.0 if same else math.inf, {},
                         "" if same else f"{type(device).__name__} vs golden {type(golden).__name__}")
    return judge_tensor(d, g, op_class)


def worst(judgements: list[Judgement]) -> Judgement:
    if not judgements:
        return Judgement(PASS, "no outputs", 0.0)
    return max(judgements, key=lambda j: (j.verdict == FAIL, j.score))
