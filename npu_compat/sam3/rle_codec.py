"""COCO RLE strings and boxes for a chunk of masks from their change keys (see ``bilinear_sign``), vectorised.

``counts`` alternate 0-runs and 1-runs in column-major order, starting with a (possibly empty) 0-run; the
string is pycocotools' ``rleToString``: count ``i > 2`` stored as the difference to count ``i - 2``, each value
in 5-bit groups, low first, ``0x20`` marking "more", plus 48.
"""
from __future__ import annotations

from typing import Any

import numpy as np

MAX_GROUPS = 8  # an int64 difference of two counts below 2**32 needs at most 7 groups


def counts_from_changes(keys: np.ndarray, count: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat counts of all masks, number of counts per mask)."""
    area = height * width
    mask = keys // area
    changes = np.bincount(mask, minlength=count)
    bounds_per_mask = changes + 2  # 0, the changes, area
    start = np.cumsum(bounds_per_mask) - bounds_per_mask
    bounds = np.empty(int(bounds_per_mask.sum()), dtype=np.int64)
    bounds[start] = 0
    bounds[start + bounds_per_mask - 1] = area
    rank = np.arange(keys.size) - (np.cumsum(changes) - changes)[mask]
    bounds[start[mask] + 1 + rank] = keys - mask * area
    lengths = np.diff(bounds)
    keep = np.ones(lengths.size, dtype=bool)
    keep[(start + bounds_per_mask - 1)[:-1]] = False  # the step from one mask's end to the next one's 0
    return lengths[keep], changes + 1


def coco_strings(counts: np.ndarray, per_mask: np.ndarray) -> list[str]:
    """pycocotools' compressed ``counts`` string of every mask."""
    first = np.cumsum(per_mask) - per_mask
    owner = np.repeat(np.arange(per_mask.size), per_mask)
    index = np.arange(counts.size) - first[owner]
    value = counts.astype(np.int64)
    delta = value.copy()
    later = index > 2
    delta[later] -= value[np.flatnonzero(later) - 2]
    chars = np.zeros((value.size, MAX_GROUPS), dtype=np.uint8)
    emitted = np.zeros((value.size, MAX_GROUPS), dtype=bool)
    alive = np.ones(value.size, dtype=bool)
    for group in range(MAX_GROUPS):
        low = delta & 0x1F
        delta = delta >> 5
        more = np.where(low & 0x10, delta != -1, delta != 0)
        chars[:, group] = (low | np.where(more, 0x20, 0)) + 48
        emitted[:, group] = alive
        alive &= more
    if alive.any():
        raise ValueError("RLE count too large for the COCO string encoding")
    text = chars[emitted].tobytes()
    length = np.bincount(owner, weights=emitted.sum(axis=1), minlength=per_mask.size).astype(np.int64)
    end = np.cumsum(length)
    return [text[e - n:e].decode("ascii") for e, n in zip(end.tolist(), length.tolist())]


def boxes_from_changes(keys: np.ndarray, count: int, height: int, width: int) -> np.ndarray:
    """(count, 4) float32 ``[x, y, w, h]`` pixel extents from the 1-runs; zeros for empty masks."""
    area = height * width
    mask = keys // area
    changes = np.bincount(mask, minlength=count)
    rank = np.arange(keys.size) - (np.cumsum(changes) - changes)[mask]
    starts = np.flatnonzero(rank % 2 == 0)  # every even change opens a 1-run
    run_mask = mask[starts]
    run_start = keys[starts] - run_mask * area
    closes = starts + 1
    closed = (closes < keys.size)
    closed[closed] &= mask[closes[closed]] == run_mask[closed]
    run_end = np.full(starts.size, area, dtype=np.int64)  # exclusive
    run_end[closed] = keys[closes[closed]] - run_mask[closed] * area
    col0, col1 = run_start // height, (run_end - 1) // height
    one_column = col0 == col1
    row0 = np.where(one_column, run_start % height, 0)
    row1 = np.where(one_column, (run_end - 1) % height, height - 1)
    boxes = np.zeros((count, 4), dtype=np.float32)
    if starts.size == 0:
        return boxes
    present = np.unique(run_mask)
    first = np.searchsorted(run_mask, present)
    x0, x1 = np.minimum.reduceat(col0, first), np.maximum.reduceat(col1, first)
    y0, y1 = np.minimum.reduceat(row0, first), np.maximum.reduceat(row1, first)
    boxes[present] = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1)
    return boxes


def encode_chunk(keys: np.ndarray, count: int, height: int, width: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(boxes, RLEs) of ``count`` masks of ``height`` x ``width`` from their sorted change keys."""
    counts, per_mask = counts_from_changes(keys, count, height, width)
    rles = [{"size": [height, width], "counts": s} for s in coco_strings(counts, per_mask)]
    return boxes_from_changes(keys, count, height, width), rles
