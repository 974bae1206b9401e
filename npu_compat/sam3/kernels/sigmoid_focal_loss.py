"""Sigmoid focal loss on any device, replacing ``sam3.train.loss.sigmoid_focal_loss`` (training only).

Upstream's module imports triton (and torch._inductor's triton helpers) at module level, so
``sam3.train.loss.loss_fns`` cannot even be imported without triton, although it has a
``triton=False`` path. This module exposes the same two callables, computed with plain torch ops
and differentiated by autograd:

- ``triton_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2)``: per-element float32 loss,
  shape of ``inputs``;
- ``triton_sigmoid_focal_loss_reduce(inputs, targets, alpha=0.25, gamma=2)``: its float32 sum.

Formula (upstream's docstring, and ``torchvision.ops.sigmoid_focal_loss`` with ``alpha >= 0``):
``alpha_t * (1 - p_t) ** gamma * BCEWithLogits(inputs, targets)``, with inputs cast to float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def triton_sigmoid_focal_loss(
    inputs: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2
) -> torch.Tensor:
    """Element-wise sigmoid focal loss in float32, same shape as ``inputs``, on its device."""
    if targets.numel() != inputs.numel():
        raise ValueError(
            f"targets must have as many elements as inputs: {tuple(targets.shape)} vs {tuple(inputs.shape)}"
        )
    logits = inputs.float()
    labels = targets.reshape(inputs.shape).float()
    prob = logits.sigmoid()
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    p_t = prob * labels + (1 - prob) * (1 - labels)
    alpha_t = alpha * labels + (1 - alpha) * (1 - labels)
    return alpha_t * (1 - p_t) ** gamma * bce


def triton_sigmoid_focal_loss_reduce(
    inputs: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2
) -> torch.Tensor:
    """Sum of :func:`triton_sigmoid_focal_loss` as a float32 scalar tensor."""
    return triton_sigmoid_focal_loss(inputs, targets, alpha, gamma).sum()


__all__ = ["triton_sigmoid_focal_loss", "triton_sigmoid_focal_loss_reduce"]
