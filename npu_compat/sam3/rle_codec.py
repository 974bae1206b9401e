"""COCO RLE strings and boxes for a chunk of masks from their change keys (see ``bilinear_sign``), vectorised.

``counts`` alternate 0-runs and 1-runs in column-major order, starting with a (possibly empty) 0-run; the
string is pycocotools' ``rleToString``: count ``i > 2`` stored as the difference to count ``i - 2``, each value
in 5-bit groups, low first, ``0x20`` marking "more", plus 48.
"""
from __future__ import annotations

from typing import Any

import numpy as np



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
    groups = np.ones(value.size, dtype=np.int64)  # 5-bit groups per value
    rest = delta >> 5
    pending = np.flatnonzero(np.where(delta & 0x10, rest != -1, rest != 0))
    while pending.size:
        groups[pending] += 1
        rest[pending] >>= 5
        sign_bit = ((delta[pending] >> (5 * groups[pending] - 5)) & 0x10) != 0  # of the group just added
        pending = pending[np.where(sign_bit, rest[pending] != -1, rest[pending] != 0)]
    end_char = np.cumsum(groups)
    chars = np.empty(int(end_char[-1]) if value.size else 0, dtype=np.uint8)
    position = end_char - groups
    for group in range(int(groups.max()) if value.size else 0):
        live = np.flatnonzero(groups > group)
        group_bits = (delta[live] >> (5 * group)) & 0x1F
        more = groups[live] > group + 1
        chars[position[live] + group] = (group_bits | np.where(more, 0x20, 0)) + 48
    text = chars.tobytes()
    length = np.bincount(owner, weights=groups, minlength=per_mask.size).astype(np.int64)
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
