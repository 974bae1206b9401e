"""Tests for npu_compat.sam3.kernels.edt against the references upstream's EDT kernel mimics.

Upstream's ``edt_triton`` is a CUDA-only triton kernel and cannot run here. Its docstring names
``cv2.distanceTransform(img, cv2.DIST_L2, 0)`` as the reference, and upstream's own CPU variant
(``sample_one_point_from_error_center_slow``) uses exactly that.

The tight check is on squared distances, which are integers: they must equal the exact squared
distance to the nearest zero pixel found by scipy (``return_indices``). The final float32 sqrt is
the device's own ``torch.sqrt``, as in upstream (``output.sqrt()``); torch's CPU sqrt is measured
to differ from numpy's correctly rounded one by 1 ulp on rare values, so distances are compared to
``torch.sqrt`` of the exact squares, and to scipy and cv2 within a relative 1e-6.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from npu_compat.sam3.kernels.edt import edt_triton, squared_edt

UPSTREAM_NO_ZERO_DISTANCE = np.sqrt(np.float32(1e18))
"""Upstream seeds foreground with 1e18 in float32 and takes sqrt; an image without zeros keeps it."""


def reference_squared_edt(image: np.ndarray) -> np.ndarray:
    """Exact integer squared distance to the nearest zero pixel (scipy's nearest-zero indices)."""
    foreground = image != 0
    if foreground.all():
        return np.full(image.shape, np.float32(1e18), dtype=np.float32)
    nearest = distance_transform_edt(foreground, return_distances=False, return_indices=True)
    rows, cols = np.indices(image.shape)
    squared = (nearest[0] - rows) ** 2 + (nearest[1] - cols) ** 2
    return squared.astype(np.float32)


def assert_matches_references(batch: torch.Tensor) -> None:
    result = edt_triton(batch)
    assert result.shape == batch.shape and result.dtype == torch.float32
    assert result.device == batch.device
    exact_squares = np.stack([reference_squared_edt(image) for image in batch.numpy()])
    exact_squares = exact_squares.reshape(batch.shape)
    assert torch.equal(squared_edt(batch), torch.from_numpy(exact_squares))
    assert torch.equal(result, torch.from_numpy(exact_squares).sqrt())
    for image, distances in zip(batch.numpy(), result.numpy()):
        if not (image == 0).any():
            continue
        scipy_distances = distance_transform_edt(image != 0)
        np.testing.assert_allclose(distances, scipy_distances, rtol=1e-6)
        opencv = cv2.distanceTransform((image != 0).astype(np.uint8), cv2.DIST_L2, 0)
        np.testing.assert_allclose(distances, opencv, rtol=1e-6)
    no_zero = (batch != 0).flatten(1).all(dim=1)
    assert (result[no_zero] == UPSTREAM_NO_ZERO_DISTANCE).all()


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 24),
    width=st.integers(1, 24),
    foreground_fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_masks_match_scipy_and_cv2(batch, height, width, foreground_fraction, seed):
    rng = np.random.default_rng(seed)
    masks = rng.random((batch, height, width)) < foreground_fraction
    assert_matches_references(torch.from_numpy(masks))


def test_integer_input_treats_nonzero_as_foreground():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 4, size=(2, 13, 11)).astype(np.uint8)
    assert_matches_references(torch.from_numpy(values))
    as_bool = edt_triton(torch.from_numpy(values != 0))
    assert torch.equal(edt_triton(torch.from_numpy(values)), as_bool)


def test_all_ones_image_gets_upstream_infinity_and_leaves_other_images_alone():
    batch = torch.ones(3, 9, 7, dtype=torch.bool)
    batch[1, 4, 3] = False
    batch[2] = False
    assert_matches_references(batch)


def test_single_zero_pixel_far_corner_needs_every_column_step():
    batch = torch.ones(1, 60, 45, dtype=torch.bool)
    batch[0, 59, 44] = False
    assert_matches_references(batch)


def test_single_foreground_pixels():
    batch = torch.zeros(2, 8, 8, dtype=torch.bool)
    batch[0, 3, 5] = True
    batch[1, 0, 0] = True
    batch[1, 7, 7] = True
    assert_matches_references(batch)


@pytest.mark.parametrize("shape", [(0, 5, 5), (2, 0, 3), (2, 3, 0)])
def test_empty_batch_or_image_gives_empty_float32(shape):
    result = edt_triton(torch.ones(shape, dtype=torch.bool))
    assert result.shape == shape and result.dtype == torch.float32


def test_rejects_non_batched_input():
    with pytest.raises(ValueError, match="B, H, W"):
        edt_triton(torch.ones(4, 4, dtype=torch.bool))


def test_upstream_center_sampling_with_this_edt_equals_its_cv2_variant(monkeypatch):
    """Upstream's triton-backed point sampler, fed this EDT, agrees with its own cv2 CPU variant."""
    tracker_utils = pytest.importorskip("sam3.model.sam3_tracker_utils")
    monkeypatch.setattr(tracker_utils, "edt_triton", edt_triton)
    rng = np.random.default_rng(7)
    gt = torch.from_numpy(rng.random((4, 1, 21, 17)) < 0.5)
    pred = torch.from_numpy(rng.random((4, 1, 21, 17)) < 0.5)
    points, labels = tracker_utils.sample_one_point_from_error_center(gt, pred)
    slow_points, slow_labels = tracker_utils.sample_one_point_from_error_center_slow(gt, pred)
    assert torch.equal(points.float(), slow_points.float())
    assert torch.equal(labels.long(), slow_labels.long())
