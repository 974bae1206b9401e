"""Exactness of the sparse bilinear sign path and the COCO RLE codec against torch and pycocotools."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_util

from npu_compat.sam3 import bilinear_sign as bs
from npu_compat.sam3 import mask_changes as mc
from npu_compat.sam3.postprocess import boxes_from_masks, resize_masks
from npu_compat.sam3.rle_codec import encode_chunk

SIZES = [(288, 288, 480, 640), (288, 288, 640, 480), (72, 72, 61, 83), (17, 5, 18, 301), (30, 40, 97, 33), (9, 9, 9, 9)]


def blobs(count: int, size: tuple[int, int], noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(count, 1, 6, 6, generator=g) * 3
    logits = F.interpolate(coarse, size, mode="bilinear")[:, 0]
    return (logits + noise * torch.randn(logits.shape, generator=g)).contiguous()


def binary_keys(masks: torch.Tensor) -> np.ndarray:
    """Change keys of (K, H, W) bool masks, straight from the definition."""
    flat = masks.transpose(1, 2).reshape(masks.shape[0], -1).numpy()
    before = np.concatenate([np.zeros((flat.shape[0], 1), bool), flat[:, :-1]], axis=1)
    return np.flatnonzero(flat != before)


def pycocotools_rles(masks: torch.Tensor) -> list[dict]:
    rles = mask_util.encode(np.asfortranarray(masks.permute(1, 2, 0).numpy().astype(np.uint8)))
    return [{"size": r["size"], "counts": r["counts"].decode("ascii")} for r in rles]


@pytest.mark.parametrize("h,w,height,width", SIZES)
def test_emulated_arithmetic_is_torch_bit_for_bit(h, w, height, width):
    logits = torch.randn(3, h, w, generator=torch.Generator().manual_seed(h * w)) * 3
    expected = F.interpolate(logits[:, None], (height, width), mode="bilinear", align_corners=False)[:, 0]
    k, y, x = (a.ravel() for a in np.meshgrid(np.arange(3), np.arange(height), np.arange(width), indexing="ij"))
    rows, cols = bs.axis_table(h, height), bs.axis_table(w, width)
    values = bs.exact_values(bs.gather_corners(logits.numpy(), k, y, x, rows, cols)).reshape(3, height, width)
    assert np.array_equal(values.view(np.int32), expected.numpy().view(np.int32))


def test_fma_emulation_rounds_once():
    one_ulp = np.float32(2.0 ** -23)
    a = np.array([1 + one_ulp], np.float32)
    b = np.array([(1 - one_ulp) * 2.0 ** -24], np.float32)
    c = np.array([1 + one_ulp], np.float32)
    # exact a*b + c = 1 + 2^-23 + 2^-24 - 2^-70: just below the float32 midpoint
    naive = (a.astype(np.float64) * b + c).astype(np.float32)
    assert naive[0] == np.float32(1 + 2 * one_ulp)  # float64 then float32 rounds twice, wrongly
    assert bs.fma_f32(a, b, c)[0] == np.float32(1 + one_ulp)


def cases() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(5)
    smooth = blobs(12, (72, 72), seed=1)
    smooth[0], smooth[1] = -2.0, 2.0  # empty and full masks
    smooth[2] = -1.0
    smooth[2, 40, 30] = 0.05  # one positive logit: a few-pixel object
    zeros = torch.randint(-1, 2, (6, 72, 72), generator=g).float()  # many pixels exactly at the threshold
    tiny = blobs(4, (72, 72), seed=2) * 1e-38  # subnormal products
    return [("smooth", smooth), ("noisy", blobs(6, (72, 72), noise=1.0, seed=3)), ("zeros", zeros), ("tiny", tiny),
            ("white", torch.randn(4, 72, 72, generator=g))]


@pytest.mark.parametrize("name,logits", cases(), ids=[c[0] for c in cases()])
@pytest.mark.parametrize("height,width", [(61, 83), (97, 130), (130, 97), (73, 73)])
def test_sparse_keys_equal_dense_torch_keys(name, logits, height, width):
    sparse = mc.sparse_change_keys(logits.numpy(), height, width)
    if sparse is None:  # too mixed for the sparse path: force it anyway to check it
        old, mc.DENSE_FRACTION = mc.DENSE_FRACTION, 10.0
        try:
            sparse = mc.sparse_change_keys(logits.numpy(), height, width)
        finally:
            mc.DENSE_FRACTION = old
    expected = binary_keys(resize_masks(logits, height, width))
    assert np.array_equal(sparse, expected)
    assert np.array_equal(mc.dense_change_keys(logits, height, width), expected)


def test_non_finite_logits_take_torch_path():
    logits = blobs(3, (20, 20), seed=4)
    logits[0, 3, 3], logits[1, 5, 5], logits[2, 7, 7] = float("inf"), float("-inf"), float("nan")
    expected = binary_keys(resize_masks(logits, 50, 35))
    assert np.array_equal(mc.change_keys(logits, 50, 35), expected)


def test_codec_equals_pycocotools_on_edge_masks():
    g = torch.Generator().manual_seed(7)
    masks = torch.rand(9, 31, 17, generator=g) > 0.5
    masks[0] = False
    masks[1] = True
    masks[2] = False
    masks[2, 0, 0] = True  # first pixel only
    masks[3] = False
    masks[3, 30, 16] = True  # last pixel only
    masks[4] = False
    masks[4, 15, 8] = True  # one pixel inside
    masks[5] = False
    masks[5, :, 4:9] = True  # a run across whole columns
    masks[6] = False
    masks[6, 30, 3] = masks[6, 0, 4] = True  # a run across a column boundary
    boxes, rles = encode_chunk(binary_keys(masks), 9, 31, 17)
    assert rles == pycocotools_rles(masks)
    assert np.array_equal(boxes, boxes_from_masks(masks).numpy())


def test_codec_handles_long_runs_and_large_images():
    masks = torch.zeros(2, 1500, 2100, dtype=torch.bool)
    masks[0, 700:, 1000:] = True
    masks[1, 3, 5] = True
    boxes, rles = encode_chunk(binary_keys(masks), 2, 1500, 2100)
    assert rles == pycocotools_rles(masks)
    assert np.array_equal(boxes, boxes_from_masks(masks).numpy())


@pytest.mark.parametrize("h,w,height,width", SIZES)
def test_change_keys_to_records_equal_dense_reference(h, w, height, width):
    logits = blobs(5, (h, w), noise=0.3, seed=height)
    masks = resize_masks(logits, height, width)
    boxes, rles = encode_chunk(mc.change_keys(logits, height, width), 5, height, width)
    assert rles == pycocotools_rles(masks)
    assert np.array_equal(boxes, boxes_from_masks(masks).numpy())
