"""Tests for npu_compat.sam3.kernels.connected_components.

References: ``skimage.measure.label`` (what upstream's CPU path calls) and upstream's own CPU path
``sam3.perflib.connected_components.connected_components_cpu``, called directly. Upstream's triton
and cc_torch paths are CUDA-only and cannot run here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.measure import label

from npu_compat.sam3.kernels.connected_components import (
    connected_components,
    connected_components_cpu,
    connected_components_cpu_single,
    connected_components_with_connectivity,
)

upstream_cc = pytest.importorskip("sam3.perflib.connected_components")


def skimage_labels_and_areas(image: np.ndarray, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    labels = label(image, connectivity=connectivity)
    areas = np.bincount(labels.ravel())[labels]
    areas[labels == 0] = 0
    return labels, areas


def assert_matches_skimage(batch: torch.Tensor, connectivity: int) -> None:
    labels, areas = connected_components_with_connectivity(batch, connectivity=connectivity)
    batch_size, height, width = batch.shape[0], batch.shape[-2], batch.shape[-1]
    assert labels.shape == areas.shape == (batch_size, 1, height, width)
    expected_dtype = torch.int32 if batch.dtype == torch.bool else torch.int64
    assert labels.dtype == areas.dtype == expected_dtype
    for index, image in enumerate(batch.reshape(batch_size, height, width).numpy()):
        expected_labels, expected_areas = skimage_labels_and_areas(image, connectivity)
        np.testing.assert_array_equal(labels[index, 0].numpy(), expected_labels)
        np.testing.assert_array_equal(areas[index, 0].numpy(), expected_areas)


def assert_matches_upstream_cpu(batch: torch.Tensor) -> None:
    expected_labels, expected_areas = upstream_cc.connected_components_cpu(batch.unsqueeze(1))
    labels, areas = connected_components(batch)
    assert labels.dtype == expected_labels.dtype and areas.dtype == expected_areas.dtype
    assert torch.equal(labels, expected_labels)
    assert torch.equal(areas, expected_areas)


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 20),
    width=st.integers(1, 20),
    foreground_fraction=st.floats(0.0, 1.0),
    distinct_values=st.integers(1, 3),
    connectivity=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_masks_match_skimage_and_upstream(
    batch, height, width, foreground_fraction, distinct_values, connectivity, seed
):
    rng = np.random.default_rng(seed)
    foreground = rng.random((batch, height, width)) < foreground_fraction
    values = rng.integers(1, distinct_values + 1, size=foreground.shape) * foreground
    tensor = torch.from_numpy(values.astype(np.uint8))
    assert_matches_skimage(tensor, connectivity)
    assert_matches_upstream_cpu(tensor)


def test_empty_batch_gives_empty_outputs_where_upstream_crashes():
    empty = torch.zeros(0, 1, 6, 4, dtype=torch.uint8)
    labels, areas = connected_components(empty)
    assert labels.shape == areas.shape == (0, 1, 6, 4)
    assert labels.dtype == areas.dtype == torch.int64
    assert connected_components(empty.bool())[0].dtype == torch.int32
    with pytest.raises(RuntimeError, match="non-empty"):
        upstream_cc.connected_components(empty)


@pytest.mark.parametrize("connectivity", [1, 2])
def test_checkerboard_single_pixel_components(connectivity):
    rows, cols = np.indices((7, 9))
    checkerboard = torch.from_numpy(((rows + cols) % 2 == 0).astype(np.uint8))[None]
    assert_matches_skimage(checkerboard, connectivity)
    _, areas = connected_components_with_connectivity(checkerboard, connectivity=connectivity)
    if connectivity == 1:
        assert set(areas[checkerboard[:, None].bool()].tolist()) == {1}


@pytest.mark.parametrize("fill", [0, 1])
def test_all_ones_and_all_zeros(fill):
    batch = torch.full((2, 5, 8), fill, dtype=torch.uint8)
    for connectivity in (1, 2):
        assert_matches_skimage(batch, connectivity)
    assert_matches_upstream_cpu(batch)


def test_long_serpentine_component_converges():
    serpentine = torch.zeros(1, 64, 64, dtype=torch.bool)
    serpentine[0, ::2, :] = True
    serpentine[0, 1::4, -1] = True
    serpentine[0, 3::4, 0] = True
    for connectivity in (1, 2):
        assert_matches_skimage(serpentine, connectivity)
    assert_matches_upstream_cpu(serpentine)


def test_bool_and_four_dim_inputs_and_upstream_helper_names():
    rng = np.random.default_rng(3)
    masks = torch.from_numpy(rng.random((3, 1, 11, 10)) < 0.4)
    labels, areas = connected_components(masks)
    expected = upstream_cc.connected_components_cpu(masks)
    assert torch.equal(labels, expected[0]) and torch.equal(areas, expected[1])
    labels_3d, areas_3d = connected_components_cpu(masks[:, 0])
    assert labels_3d.shape == masks[:, 0].shape
    assert torch.equal(labels_3d, labels[:, 0]) and torch.equal(areas_3d, areas[:, 0])
    single = connected_components_cpu_single(masks[1, 0])
    upstream_single = upstream_cc.connected_components_cpu_single(masks[1, 0])
    assert torch.equal(single[0], upstream_single[0]) and torch.equal(single[1], upstream_single[1])


def test_rejects_bad_shapes_and_connectivity():
    with pytest.raises(ValueError, match="B, H, W"):
        connected_components(torch.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match="connectivity"):
        connected_components_with_connectivity(torch.ones(1, 4, 4), connectivity=3)
