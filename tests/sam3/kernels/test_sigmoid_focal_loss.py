"""Tests for npu_compat.sam3.kernels.sigmoid_focal_loss.

Upstream's triton kernels are CUDA-only, and upstream's ``triton=False`` path lives in
``loss_fns.py``, which cannot be imported without triton and torchmetrics. The reference is
``torchvision.ops.sigmoid_focal_loss``, which computes the formula upstream's docstring states.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import sigmoid_focal_loss as torchvision_focal_loss

from npu_compat.sam3.kernels.sigmoid_focal_loss import (
    triton_sigmoid_focal_loss,
    triton_sigmoid_focal_loss_reduce,
)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    alpha=st.floats(0.0, 1.0),
    gamma=st.sampled_from([0, 1, 2, 2.5]),
    soft_targets=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_loss_and_gradients_match_torchvision(shape, alpha, gamma, soft_targets, seed):
    rng = np.random.default_rng(seed)
    logits = torch.from_numpy((4 * rng.standard_normal(shape)).astype(np.float32))
    targets = rng.random(shape) if soft_targets else (rng.random(shape) < 0.3)
    targets = torch.from_numpy(np.asarray(targets, dtype=np.float32))

    mine = logits.clone().requires_grad_()
    reference = logits.clone().requires_grad_()
    loss = triton_sigmoid_focal_loss(mine, targets, alpha, gamma)
    expected = torchvision_focal_loss(reference, targets, alpha, gamma, reduction="none")
    assert loss.dtype == torch.float32 and loss.shape == logits.shape
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)

    upstream_grad = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
    loss.backward(upstream_grad)
    expected.backward(upstream_grad)
    torch.testing.assert_close(mine.grad, reference.grad, rtol=1e-4, atol=1e-6)


def test_reduced_loss_is_the_sum_and_backpropagates():
    rng = np.random.default_rng(2)
    logits = torch.from_numpy(rng.standard_normal((3, 5, 7)).astype(np.float32)).requires_grad_()
    targets = torch.from_numpy((rng.random((3, 5, 7)) < 0.5).astype(np.float32))
    reference = logits.detach().clone().requires_grad_()
    total = triton_sigmoid_focal_loss_reduce(logits, targets)
    expected = torchvision_focal_loss(reference, targets, reduction="sum")
    assert total.dim() == 0 and total.dtype == torch.float32
    torch.testing.assert_close(total, expected)
    total.backward()
    expected.backward()
    torch.testing.assert_close(logits.grad, reference.grad)


def test_half_inputs_compute_in_float32():
    logits = torch.linspace(-6, 6, 25).view(5, 5)
    targets = (logits > 0.5).float()
    half = triton_sigmoid_focal_loss(logits.half(), targets)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, triton_sigmoid_focal_loss(logits.half().float(), targets))


def test_rejects_mismatched_targets():
    with pytest.raises(ValueError, match="as many elements"):
        triton_sigmoid_focal_loss(torch.zeros(2, 3), torch.zeros(5))
