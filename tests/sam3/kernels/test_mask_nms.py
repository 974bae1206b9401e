"""Tests for npu_compat.sam3.kernels.mask_nms.

The reference is upstream's own non-CUDA path, called directly: ``sam3.perflib.nms.generic_nms_cpu``
(numpy), ``nms_masks`` on CPU tensors, and ``sam3.perflib.masks_ops.mask_iou``. Upstream's triton and
torch_generic_nms paths are CUDA-only and cannot run here.

Ties: upstream's numpy path orders equal scores with an unstable argsort, so its tie order is
unspecified. The replacement visits ties lowest index first, like upstream's triton kernel (stable
descending sort). Tie tests therefore feed upstream's numpy greedy loop distinct scores that encode
that stable order, and require the replacement, given the tied scores, to return the same indices.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from npu_compat.sam3.kernels.mask_nms import generic_nms, generic_nms_cpu, mask_iou, nms_masks

upstream_nms = pytest.importorskip("sam3.perflib.nms")
upstream_masks_ops = pytest.importorskip("sam3.perflib.masks_ops")


def stable_rank_scores(scores: torch.Tensor) -> torch.Tensor:
    """Distinct scores whose descending order is the stable descending order of ``scores``."""
    order = np.argsort(-scores.numpy(), kind="stable")
    ranks = np.empty(len(order), dtype=np.float32)
    ranks[order] = np.arange(len(order), 0, -1, dtype=np.float32)
    return torch.from_numpy(ranks)


def random_logit_masks(rng: np.random.Generator, count: int, height: int, width: int) -> torch.Tensor:
    noise = rng.standard_normal((count, height, width))
    bias = 1.5 * rng.standard_normal((count, 1, 1))
    return torch.from_numpy((noise + bias).astype(np.float32))


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(0, 24),
    prob_threshold=st.floats(0.0, 0.9),
    iou_threshold=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_nms_masks_matches_upstream_on_random_detections(count, prob_threshold, iou_threshold, seed):
    rng = np.random.default_rng(seed)
    masks = random_logit_masks(rng, count, 9, 11)
    probs = torch.from_numpy(rng.random(count).astype(np.float32))
    expected = upstream_nms.nms_masks(probs, masks, prob_threshold, iou_threshold)
    keep = nms_masks(probs, masks, prob_threshold, iou_threshold)
    assert keep.dtype == torch.bool and keep.shape == (count,)
    assert torch.equal(keep, expected)


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(0, 30),
    iou_threshold=st.sampled_from([0.0, 0.25, 0.5, 0.75]),
    seed=st.integers(0, 2**32 - 1),
)
def test_generic_nms_matches_numpy_on_threshold_boundaries(count, iou_threshold, seed):
    """IoUs drawn from a grid that contains the threshold itself; matrix need not be symmetric."""
    rng = np.random.default_rng(seed)
    ious = torch.from_numpy(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=(count, count)).astype(np.float32))
    scores = torch.from_numpy(rng.permutation(count).astype(np.float32))
    kept = generic_nms(ious, scores, iou_threshold)
    assert kept.dtype == torch.int64
    assert torch.equal(kept, upstream_nms.generic_nms_cpu(ious, scores, iou_threshold))
    assert torch.equal(generic_nms_cpu(ious, scores, iou_threshold), kept)


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(1, 30),
    distinct_scores=st.integers(1, 4),
    iou_threshold=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_ties_visit_lowest_index_first(count, distinct_scores, iou_threshold, seed):
    rng = np.random.default_rng(seed)
    masks = random_logit_masks(rng, count, 8, 8) > 0
    ious = mask_iou(masks, masks)
    scores = torch.from_numpy(rng.integers(0, distinct_scores, size=count).astype(np.float32))
    expected = upstream_nms.generic_nms_cpu(ious, stable_rank_scores(scores), iou_threshold)
    assert torch.equal(generic_nms(ious, scores, iou_threshold), expected)


def test_identical_masks_with_tied_scores_keep_one():
    rng = np.random.default_rng(5)
    masks = random_logit_masks(rng, 1, 10, 10).repeat(4, 1, 1)
    probs = torch.full((4,), 0.7)
    keep = nms_masks(probs, masks, 0.5, 0.5)
    ranked = torch.where(probs > 0.5, 1.0 + stable_rank_scores(probs), 0.0)
    assert torch.equal(keep, upstream_nms.nms_masks(ranked, masks, 0.5, 0.5))
    assert int(keep.sum()) == 1


def test_empty_masks_and_no_valid_detection():
    empty_masks = torch.full((5, 6, 7), -1.0)
    probs = torch.linspace(0.1, 0.9, 5)
    assert torch.equal(nms_masks(probs, empty_masks, 0.3, 0.5), upstream_nms.nms_masks(probs, empty_masks, 0.3, 0.5))
    assert torch.equal(nms_masks(probs, empty_masks, 0.95, 0.5), upstream_nms.nms_masks(probs, empty_masks, 0.95, 0.5))
    no_detections = nms_masks(torch.zeros(0), torch.zeros(0, 6, 7), 0.3, 0.5)
    assert no_detections.shape == (0,) and no_detections.dtype == torch.bool


def test_nan_iou_suppresses_like_numpy():
    ious = torch.tensor([[1.0, float("nan"), 0.1], [float("nan"), 1.0, 0.2], [0.1, 0.2, 1.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert torch.equal(generic_nms(ious, scores, 0.5), upstream_nms.generic_nms_cpu(ious, scores, 0.5))


def test_mask_iou_equals_upstream_including_empty_masks():
    rng = np.random.default_rng(11)
    pred = random_logit_masks(rng, 6, 12, 13) > 0.8
    gt = random_logit_masks(rng, 4, 12, 13) > 0.8
    pred[0] = False
    gt[1] = False
    assert torch.equal(mask_iou(pred, gt), upstream_masks_ops.mask_iou(pred, gt))


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="square"):
        generic_nms(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="scores"):
        generic_nms(torch.zeros(2, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="mask_iou"):
        mask_iou(torch.zeros(2, 3, 3, dtype=torch.bool), torch.zeros(2, 3, 4, dtype=torch.bool))
