"""Exactness of the OpenCV-resize sign path against torch's own ``interpolate(bilinear) > 0``."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from npu_compat.sam3 import opencv_sign as ocs
from npu_compat.sam3.postprocess import boxes_from_masks, resize_masks

cv2 = pytest.importorskip("cv2", reason="the OpenCV path needs opencv-python (the sam3 extra)")

SIZES = [(288, 288, 480, 640), (288, 288, 640, 480), (72, 72, 61, 83), (17, 5, 18, 301), (30, 40, 97, 33),
         (9, 9, 9, 9), (40, 40, 3, 7), (72, 72, 36, 36), (40, 40, 120, 160)]


def blobs(count: int, size: tuple[int, int], noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(count, 1, 6, 6, generator=g) * 3
    logits = F.interpolate(coarse, size, mode="bilinear")[:, 0]
    return (logits + noise * torch.randn(logits.shape, generator=g)).contiguous()


def cases(h: int, w: int) -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(h * 31 + w)
    smooth = blobs(6, (h, w), seed=1)
    smooth[0], smooth[1] = -2.0, 2.0  # empty and full masks
    smooth[2] = -1.0
    smooth[2, h // 2, w // 3] = 0.05  # one positive logit: a few-pixel object
    near_zero = torch.randn(3, h, w, generator=g) * 1e-6  # every pixel inside the recomputation margin
    near_zero[:, 0, 0] = 10.0
    return [("smooth", smooth), ("noisy", blobs(6, (h, w), noise=0.7, seed=3)),
            ("zeros", torch.randint(-1, 2, (4, h, w), generator=g).float()),  # many pixels exactly at 0
            ("tiny", blobs(3, (h, w), seed=2) * 1e-38),  # subnormal products
            ("near zero", near_zero), ("white", torch.randn(4, h, w, generator=g))]


def by_column(masks: torch.Tensor) -> np.ndarray:
    return masks.transpose(1, 2).contiguous().numpy()


@pytest.mark.parametrize("h,w,height,width", SIZES)
def test_signs_equal_torch_bit_for_bit(h, w, height, width):
    for name, logits in cases(h, w):
        ours = ocs.positive_by_column(logits.numpy(), height, width)
        assert ours is not None and ours.shape == (logits.shape[0], width, height), name
        assert np.array_equal(ours, by_column(resize_masks(logits, height, width))), name


def test_opencv_alone_gets_signs_wrong_that_the_recomputation_fixes():
    """Without the exact recomputation OpenCV's own sign differs from torch's at some pixels: the margin matters."""
    logits = torch.cat([c for _, c in cases(288, 288)]).numpy()
    expected = by_column(resize_masks(torch.from_numpy(logits), 480, 640))
    raw = np.stack([cv2.resize(np.ascontiguousarray(m.T), (480, 640), interpolation=cv2.INTER_LINEAR) > 0
                    for m in logits])
    assert (raw != expected).sum() > 0
    assert np.array_equal(ocs.positive_by_column(logits, 480, 640), expected)


@pytest.mark.parametrize("h,w,height,width", SIZES)
def test_measured_bound_covers_opencv_against_torch(h, w, height, width):
    bound = ocs.resize_bound(w, h, width, height)
    assert bound is not None and bound <= ocs.MAX_BOUND
    logits = torch.cat([blobs(4, (h, w), noise=1.0, seed=7), torch.randn(4, h, w) * 5])
    flipped = np.ascontiguousarray(logits.numpy().transpose(0, 2, 1))
    theirs = np.stack([cv2.resize(m, (height, width), interpolation=cv2.INTER_LINEAR) for m in flipped])
    torch_values = F.interpolate(logits[:, None], (height, width), mode="bilinear", align_corners=False)[:, 0]
    error = np.abs(theirs - by_column(torch_values)).max(axis=(1, 2))
    assert np.all(error <= bound * np.abs(logits.numpy()).max(axis=(1, 2)))


def test_no_opencv_or_an_unlike_resize_gives_none(monkeypatch):
    logits = blobs(2, (20, 20)).numpy()
    monkeypatch.setattr(ocs, "MAX_BOUND", 0.0)
    assert ocs.resize_bound(20, 20, 30, 40) is None
    assert ocs.positive_by_column(logits, 30, 40) is None
    monkeypatch.undo()
    monkeypatch.setattr(ocs, "_opencv", lambda: None)
    assert not ocs.load()
    assert ocs.positive_by_column(logits, 30, 40) is None
    with ocs.one_thread():  # a no-op without OpenCV
        pass


def test_one_thread_restores_the_thread_count():
    before = cv2.getNumThreads()
    with ocs.one_thread():
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before


def test_boxes_are_pixel_extents_of_column_major_masks():
    masks = torch.zeros(4, 20, 30, dtype=torch.bool)
    masks[0, 2:5, 7:19] = True
    masks[2, 19, 0] = True
    masks[3] = True
    boxes = ocs.boxes_by_column(by_column(masks))
    assert np.array_equal(boxes, boxes_from_masks(masks).numpy())
    assert boxes[1].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_nonzero_bytes_finds_every_flag_including_the_tail():
    flags = np.zeros(8 * 5 + 3, np.uint8)
    where = [0, 7, 8, 21, 39, 40, 42]
    flags[where] = 255
    assert ocs._nonzero_bytes(flags).tolist() == where
    assert ocs._nonzero_bytes(np.zeros(16, np.uint8)).size == 0
