"""End-to-end parity of the SAM3 image pipeline: device vs CPU reference, stage by stage.

Stages are compared in pipeline order and the first failing one is named: when the backbone
already diverges, every later stage will too, so the first is where to look.

| stage            | metric                                   | fp32 device      | bf16 autocast   |
| ---------------- | ---------------------------------------- | ---------------- | --------------- |
| backbone, text,  | cosine similarity (min over tensors)     | >= 0.9999        | >= 0.99         |
| logits           | max abs err / max abs reference          | <= 1e-3          | <= 0.1          |
| boxes            | IoU of each query's box with reference's | min >= 0.99      | min >= 0.9      |
| scores           | max abs diff of sigmoid scores           | <= 1e-3          | <= 0.05         |
| masks            | IoU of each query's mask (logit > 0)     | mean >= 0.99,    | mean >= 0.9,    |
|                  | (both empty counts as 1)                 | min >= 0.9       | min >= 0.5      |

docs/parity.md explains the numbers.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from npu_compat.parity.pipeline import STAGES


@dataclass(frozen=True)
class E2EThresholds:
    cosine_min: float
    max_err_ratio: float
    box_iou_min: float
    score_abs_max: float
    mask_iou_mean_min: float
    mask_iou_min: float


E2E_THRESHOLDS = {
    "fp32": E2EThresholds(cosine_min=0.9999, max_err_ratio=1e-3, box_iou_min=0.99, score_abs_max=1e-3,
                          mask_iou_mean_min=0.99, mask_iou_min=0.9),
    "bf16": E2EThresholds(cosine_min=0.99, max_err_ratio=0.1, box_iou_min=0.9, score_abs_max=0.05,
                          mask_iou_mean_min=0.9, mask_iou_min=0.5),
}


@dataclass
class StageResult:
    stage: str
    verdict: str
    metrics: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    reason: str = ""


@dataclass
class E2EResult:
    device: str
    precision: str
    reference: str
    stages: list[StageResult]

    @property
    def passed(self) -> bool:
        return all(stage.verdict == "pass" for stage in self.stages)

    @property
    def first_divergence(self) -> str | None:
        return next((stage.stage for stage in self.stages if stage.verdict != "pass"), None)

    def summary(self) -> str:
        if self.passed:
            return (f"e2e parity PASS on {self.device} ({self.precision}) vs {self.reference}: "
                    f"all {len(self.stages)} stages within thresholds")
        failing = [s.stage for s in self.stages if s.verdict != "pass"]
        first = self.stages[[s.stage for s in self.stages].index(failing[0])]
        return (f"e2e parity FAIL on {self.device} ({self.precision}) vs {self.reference}: first diverging "
                f"stage is '{failing[0]}' ({first.reason}); failing stages: {', '.join(failing)}")

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "precision": self.precision, "reference": self.reference,
                "passed": self.passed, "first_divergence": self.first_divergence,
                "summary": self.summary(), "stages": [asdict(s) for s in self.stages]}


def _feature_metrics(device: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    d, r = device.double().reshape(-1), reference.double().reshape(-1)
    norms = float(d.norm() * r.norm())
    cosine = float(torch.dot(d, r)) / norms if norms > 0 else float(torch.equal(d, r))
    peak = float(r.abs().max()) if r.numel() else 0.0
    err = float((d - r).abs().max()) if r.numel() else 0.0
    return {"cosine": cosine, "max_err_ratio": err / peak if peak > 0 else (0.0 if err == 0 else math.inf)}


def box_iou_pairwise(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of a[i] with b[i] for xyxy boxes of the same shape (..., 4); identical boxes give 1."""
    a, b = a.double(), b.double()
    lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda x: (x[..., 2:] - x[..., :2]).clamp(min=0).prod(-1)  # noqa: E731
    union = area(a) + area(b) - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))
    return torch.where((a == b).all(-1), torch.ones_like(iou), iou)


def mask_iou_pairwise(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU per mask over the last two dims; two empty masks agree (IoU 1)."""
    a, b = a.flatten(-2), b.flatten(-2)
    inter = (a & b).sum(-1).double()
    union = (a | b).sum(-1).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def _judge(stage: str, checks: list[tuple[str, float, float, str]], metrics: dict[str, float],
           limits: dict[str, float]) -> StageResult:
    """checks: (metric, value, limit, 'min'|'max')."""
    broken = [f"{name} {value:.6g} {'<' if kind == 'min' else '>'} {limit:g}"
              for name, value, limit, kind in checks
              if not math.isfinite(value) or (value < limit if kind == "min" else value > limit)]
    return StageResult(stage, "fail" if broken else "pass", metrics, limits, "; ".join(broken))


def compare_stage(stage: str, device: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                  limits: E2EThresholds) -> StageResult:
    if stage in ("backbone", "text", "logits"):
        per = {name: _feature_metrics(device[name], reference[name]) for name in reference}
        cosine = min(m["cosine"] for m in per.values())
        ratio = max(m["max_err_ratio"] for m in per.values())
        worst = max(per, key=lambda name: per[name]["max_err_ratio"])
        return _judge(stage, [("cosine", cosine, limits.cosine_min, "min"),
                              (f"max_err_ratio[{worst}]", ratio, limits.max_err_ratio, "max")],
                      {"cosine_min": cosine, "max_err_ratio": ratio},
                      {"cosine_min": limits.cosine_min, "max_err_ratio": limits.max_err_ratio})
    if stage == "boxes":
        iou = box_iou_pairwise(device["boxes_xyxy"], reference["boxes_xyxy"])
        value = float(iou.min()) if iou.numel() else 1.0
        return _judge(stage, [("box_iou_min", value, limits.box_iou_min, "min")],
                      {"box_iou_min": value, "box_iou_mean": float(iou.mean()) if iou.numel() else 1.0},
                      {"box_iou_min": limits.box_iou_min})
    if stage == "scores":
        diff = float((device["scores"].double() - reference["scores"].double()).abs().max())
        return _judge(stage, [("score_abs_diff", diff, limits.score_abs_max, "max")],
                      {"score_abs_diff": diff}, {"score_abs_max": limits.score_abs_max})
    if stage == "masks":
        iou = mask_iou_pairwise(device["mask_logits"] > 0, reference["mask_logits"] > 0)
        mean, low = float(iou.mean()), float(iou.min())
        return _judge(stage, [("mask_iou_mean", mean, limits.mask_iou_mean_min, "min"),
                              ("mask_iou_min", low, limits.mask_iou_min, "min")],
                      {"mask_iou_mean": mean, "mask_iou_min": low},
                      {"mask_iou_mean_min": limits.mask_iou_mean_min, "mask_iou_min": limits.mask_iou_min})
    raise ValueError(f"unknown stage {stage!r}; stages are {STAGES}")


def compare_pipelines(device_stages: dict[str, dict[str, torch.Tensor]],
                      reference_stages: dict[str, dict[str, torch.Tensor]], precision: str,
                      device: str = "device", reference: str = "cpu") -> E2EResult:
    """Compare every stage in pipeline order with the thresholds of ``precision`` (fp32/bf16)."""
    limits = E2E_THRESHOLDS["bf16" if precision == "bf16" else "fp32"]
    results = []
    for stage in STAGES:
        dev, ref = device_stages[stage], reference_stages[stage]
        shapes = {name: (tuple(dev[name].shape), tuple(ref[name].shape)) for name in ref}
        mismatched = {name: pair for name, pair in shapes.items() if pair[0] != pair[1]}
        if mismatched:
            results.append(StageResult(stage, "fail", {}, {}, f"shape mismatch {mismatched}"))
            continue
        results.append(compare_stage(stage, dev, ref, limits))
    return E2EResult(device, precision, reference, results)
