"""Tests for npu_compat.workloads.overlay: clipped boxes and labels that neither overlap nor leave the picture."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from npu_compat.workloads.overlay import _overlaps, clip_box, draw_detections, place_labels


def test_clip_box_keeps_a_box_inside_the_picture():
    assert clip_box([-40, -205.5, 700, 90], 512, 400) == [0.0, 0.0, 512.0, 90.0]
    assert clip_box([10, 20, 30, 40], 512, 400) == [10.0, 20.0, 30.0, 40.0]
    assert clip_box([math.nan, 5, 30, math.inf], 64, 48) == [0.0, 5.0, 30.0, 48.0]


boxes = st.lists(st.tuples(*[st.floats(-300, 800, allow_nan=False)] * 4), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(boxes=boxes, size=st.tuples(st.integers(10, 80), st.integers(8, 20)))
def test_placed_labels_are_inside_and_apart(boxes, size):
    width, height, banner = 320, 240, (0, 0, 320, 30)
    spots = place_labels(boxes, [size] * len(boxes), width, height, reserved=[banner])
    placed = [s for s in spots if s is not None]
    for i, a in enumerate(placed):
        assert 0 <= a[0] and 0 <= a[1] and a[2] <= width and a[3] <= height
        assert not _overlaps(a, banner)
        assert not any(_overlaps(a, b) for b in placed[i + 1:])
    assert spots[0] is not None  # the first label always finds room


def test_many_labels_on_one_box_stack_without_a_smear():
    """Six detections on (almost) the same box, as random weights give: six separate, readable tags."""
    image = Image.fromarray(np.full((200, 300, 3), 90, np.uint8))
    mask = np.zeros((200, 300), bool)
    mask[50:150, 50:250] = True
    dets = [{"label": "person", "score": 0.5 - i / 100, "box": [40 + i, -205 + i, 260, 160], "mask": mask}
            for i in range(6)]
    out = np.asarray(draw_detections(image, dets))
    assert out.shape == (200, 300, 3)
    sizes = [(60, 14)] * 6
    spots = place_labels([d["box"] for d in dets], sizes, 300, 200)
    assert all(s is not None for s in spots)
    assert len({(s[0], s[1]) for s in spots}) == 6


@pytest.mark.parametrize("box", [[-50, -50, 20, 20], [280, 180, 400, 300]])
def test_a_box_in_a_corner_gets_its_label_inside_the_picture(box):
    (spot,) = place_labels([box], [(50, 12)], 300, 200)
    assert spot is not None and 0 <= spot[0] and spot[2] <= 300 and 0 <= spot[1] and spot[3] <= 200
