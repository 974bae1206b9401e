"""Mask NMS on any torch device, replacing ``sam3.perflib.nms``.

Upstream runs greedy NMS over a pairwise IoU matrix with torch_generic_nms or a triton kernel on
CUDA, and with a numpy loop on every other device (a host round trip per call). This module
computes the same greedy result with vectorized torch ops on the input's device.

Semantics, matching upstream's numpy path ``generic_nms_cpu``:

- detections are visited by decreasing ``scores.float()``; a visited, kept detection suppresses
  every later one whose IoU with it (row = kept detection) is not ``<= iou_threshold`` (so NaN
  suppresses) in float32;
- returned indices are int64, in visiting order, on the scores' device.

Ties: upstream's numpy path orders equal scores with ``argsort()[::-1]``, whose order among ties is
unspecified (numpy's default sort is not stable; measured to differ from a stable sort even for
10 elements on an AVX-512 host). Here ties are visited lowest index first, as in upstream's triton
kernel (``torch.sort(stable=True, descending=True)``). With distinct scores the result is exactly
upstream's.

Greedy NMS is computed as the unique fixed point of ``keep[j] = not any(keep[i] and
suppresses[i, j] for i before j)``, iterated from all-kept: after ``t`` rounds the first ``t``
entries are final, and a round that changes nothing has reached the fixed point.
"""

from __future__ import annotations

import torch

GENERIC_NMS_AVAILABLE = False
"""Upstream's flag for the optional torch_generic_nms CUDA extension; never used here."""

_EXACT_FLOAT32_COUNT = 2**24
"""Pixel counts below this are exact in float32, so the matmul intersection is exact."""


def mask_iou(pred_masks: torch.Tensor, gt_masks: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU (N, M) float32 of bool masks (N, H, W) and (M, H, W), on their device.

    Equal to upstream ``sam3.perflib.masks_ops.mask_iou`` (intersection / max(union, 1) of exact
    pixel counts), without its (N, M, H*W) intermediate: the intersection is a float32 matmul of
    0/1 values, exact while H*W < 2**24 (also under TF32/HF32, which represent 0 and 1 exactly).
    """
    if pred_masks.dim() != 3 or gt_masks.dim() != 3 or pred_masks.shape[1:] != gt_masks.shape[1:]:
        raise ValueError(
            f"mask_iou expects (N, H, W) and (M, H, W), got {tuple(pred_masks.shape)} and {tuple(gt_masks.shape)}"
        )
    pred_flat = pred_masks.flatten(1).bool()
    gt_flat = gt_masks.flatten(1).bool()
    if pred_flat.shape[1] < _EXACT_FLOAT32_COUNT:
        intersection = (pred_flat.float() @ gt_flat.float().T).round()
    else:
        intersection = torch.stack([(row & gt_flat).sum(dim=1) for row in pred_flat]).float()
        intersection = intersection.view(pred_flat.shape[0], gt_flat.shape[0])
    pred_area = pred_flat.sum(dim=1).float()
    gt_area = gt_flat.sum(dim=1).float()
    union = pred_area[:, None] + gt_area[None, :] - intersection
    return intersection / union.clamp(min=1)


def generic_nms(ious: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    """Greedy NMS from a pairwise IoU matrix; drop-in for upstream ``generic_nms`` on any device.

    Args:
        ious: (N, N) pairwise IoU.
        scores: (N,) detection scores.
        iou_threshold: a kept detection suppresses later ones with IoU above this.

    Returns:
        int64 indices of kept detections, by decreasing score (ties: lower index first).
    """
    if ious.dim() != 2 or ious.size(0) != ious.size(1):
        raise ValueError(f"ious must be a square (N, N) matrix, got {tuple(ious.shape)}")
    if scores.dim() != 1 or scores.size(0) != ious.size(0):
        raise ValueError(f"scores must be (N,) with N = {ious.size(0)}, got {tuple(scores.shape)}")
    count = scores.size(0)
    order = torch.sort(scores.detach().float(), descending=True, stable=True).indices
    if count == 0:
        return order
    ordered_ious = ious.detach().float().to(scores.device)[order][:, order]
    earlier = torch.ones(count, count, dtype=torch.bool, device=scores.device).triu(diagonal=1)
    suppresses = ~(ordered_ious <= iou_threshold) & earlier
    keep = torch.ones(count, dtype=torch.bool, device=scores.device)
    while True:
        next_keep = ~(keep[:, None] & suppresses).any(dim=0)
        if torch.equal(next_keep, keep):
            return order[keep]
        keep = next_keep


def generic_nms_cpu(ious: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    """Upstream name for the numpy path; here the same computation as :func:`generic_nms`."""
    return generic_nms(ious, scores, iou_threshold)


def nms_masks(
    pred_probs: torch.Tensor,
    pred_masks: torch.Tensor,
    prob_threshold: float,
    iou_threshold: float,
) -> torch.Tensor:
    """Score threshold, then mask NMS; drop-in for upstream ``nms_masks`` on any device.

    Args:
        pred_probs: (num_det,) detection probabilities.
        pred_masks: (num_det, H, W) mask logits; a pixel is in the mask when > 0.
        prob_threshold: detections with probability not above this are dropped before NMS.
        iou_threshold: mask IoU above which a kept detection suppresses a lower-scored one.

    Returns:
        (num_det,) bool tensor: which detections survive thresholding and NMS.
    """
    is_valid = pred_probs > prob_threshold
    valid_indices = torch.nonzero(is_valid).squeeze(1)
    if valid_indices.numel() == 0:
        return is_valid
    valid_masks = pred_masks[valid_indices] > 0
    ious = mask_iou(valid_masks, valid_masks)
    kept = generic_nms(ious, pred_probs[valid_indices], iou_threshold)
    keep = torch.zeros_like(is_valid)
    keep[valid_indices[kept]] = True
    return keep


__all__ = ["GENERIC_NMS_AVAILABLE", "generic_nms", "generic_nms_cpu", "mask_iou", "nms_masks"]
