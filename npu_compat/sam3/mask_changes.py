"""Where ``F.interpolate(logits, (H, W), mode="bilinear", align_corners=False) > 0`` changes value, in COCO
RLE order, for a chunk of masks.

Positions are column-major (``t = x * H + y``); a "change" at ``t`` means pixel ``t`` differs from pixel
``t - 1`` (pixel ``-1`` counts as 0). Keys are ``mask * H * W + t``, sorted.

Sparse path: output rows sharing a source row ``lo`` form a segment; in one column a segment can hold a
change only if its cell is mixed or its class differs from the previous segment's (``bilinear_sign``). For
those (cell, column) items the two source-row values are interpolated once, each pixel of the segment (and
the one just above it) takes 2 multiplies, and pixels within rounding distance of 0 are recomputed with
torch's exact arithmetic. Dense path (non-finite logits, or mostly mixed chunks): torch's own interpolate.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from npu_compat.sam3.bilinear_sign import (NEGATIVE, POSITIVE, SIGN_MARGIN, AxisTable, SparseSign, exact_values,
                                           gather_corners)

DENSE_FRACTION = 0.25  # evaluating more pixels than this share of the output: the dense path is cheaper


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with ``counts`` sub-items each: (item index, rank within item) of every sub-item."""
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - first[owner]


def _row_values(logits: np.ndarray, mask: np.ndarray, row: np.ndarray, x: np.ndarray,
                cols: AxisTable) -> tuple[np.ndarray, np.ndarray]:
    """Plain float32 width interpolation of source ``row`` at output column ``x``, and max |input|."""
    h, w = logits.shape[1], logits.shape[2]
    base = mask * (h * w) + row * w
    flat = logits.reshape(-1)
    left, right = flat.take(base + cols.lo[x]), flat.take(base + cols.hi[x])
    return left * cols.w_lo[x] + right * cols.w_hi[x], np.maximum(np.abs(left), np.abs(right))


def _interesting_cells(sign: SparseSign) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask, segment row, segment column) of cells that can hold a change, in key order."""
    rows, cols = sign.rows, sign.cols
    grid = sign.classes
    if rows.segment_src.size != grid.shape[1]:
        grid = grid[:, rows.segment_src]
    if cols.segment_src.size != grid.shape[2]:
        grid = grid[:, :, cols.segment_src]
    interesting = (grid != POSITIVE) & (grid != NEGATIVE)
    interesting[:, 1:] |= grid[:, 1:] != grid[:, :-1]
    return np.unravel_index(np.flatnonzero(interesting), grid.shape)


def sparse_change_keys(logits: np.ndarray, height: int, width: int) -> np.ndarray | None:
    """Sorted change keys of a chunk of finite logits, or None when too much of it is mixed."""
    sign = SparseSign(logits, height, width)
    rows, cols = sign.rows, sign.cols
    mask, seg_row, seg_col = _interesting_cells(sign)
    col_count = cols.segment_end[seg_col] - cols.segment_start[seg_col]
    seg_start = rows.segment_start[seg_row]
    has_above = seg_start > 0  # the pixel above the segment is compared too
    row_count = rows.segment_end[seg_row] - seg_start + has_above
    if int((col_count * row_count).sum()) > DENSE_FRACTION * logits.shape[0] * height * width:
        return None
    cell, rank = _expand(col_count)  # one item per (cell, column)
    item_mask, item_x = mask[cell], cols.segment_start[seg_col][cell] + rank
    item_start, item_above = seg_start[cell], has_above[cell]
    above = np.maximum(item_start - 1, 0)
    pair_mask, pair_x = np.tile(item_mask, 2), np.tile(item_x, 2)  # pairs: segments, then the pixels above
    pair_y = np.concatenate([item_start, above])
    low, low_scale = _row_values(logits, pair_mask, rows.lo[pair_y], pair_x, cols)
    high, high_scale = _row_values(logits, pair_mask, rows.hi[pair_y], pair_x, cols)
    scale = np.maximum(low_scale, high_scale)
    item, rank = _expand(row_count[cell])  # one per pixel, top-down
    first_y = item_start - item_above
    y = first_y[item] + rank
    pair = item + (item_mask.size * (y < item_start[item]))
    value = low.take(pair) * rows.w_lo.take(y) + high.take(pair) * rows.w_hi.take(y)
    positive = value > 0
    unsure = np.flatnonzero(np.abs(value) <= np.float32(SIGN_MARGIN) * scale.take(pair) + np.float32(1e-37))
    if unsure.size:
        corners = gather_corners(logits, item_mask[item[unsure]], y[unsure], item_x[item[unsure]], rows, cols)
        positive[unsure] = exact_values(corners) > 0
    inner = np.flatnonzero((item[1:] == item[:-1]) & (positive[1:] != positive[:-1])) + 1
    changed = item[inner]
    keys = item_mask[changed] * (height * width) + item_x[changed] * height + y[inner]
    return np.sort(np.concatenate([keys, _column_start_keys(sign)]))


def _column_start_keys(sign: SparseSign) -> np.ndarray:
    """Changes at the top of a column: pixel (0, x) against (H - 1, x - 1), or 0 before the first column."""
    count, height, width = sign.logits.shape[0], sign.height, sign.width
    mask = np.repeat(np.arange(count), width)
    x = np.tile(np.arange(width), count)
    top = sign.values(mask, np.zeros_like(x), x).reshape(count, width)
    bottom = sign.values(mask, np.full_like(x, height - 1), x).reshape(count, width)
    before = np.concatenate([np.zeros((count, 1), dtype=bool), bottom[:, :-1]], axis=1)
    m, col = np.nonzero(top != before)
    return m * (height * width) + col * height


def dense_change_keys(logits: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Sorted change keys from torch's own full-size interpolation (any logits, including non-finite)."""
    full = F.interpolate(logits.unsqueeze(1), (height, width), mode="bilinear", align_corners=False)
    by_column = (full.squeeze(1) > 0).transpose(1, 2).reshape(logits.shape[0], -1).numpy()
    before = np.concatenate([np.zeros((by_column.shape[0], 1), dtype=bool), by_column[:, :-1]], axis=1)
    return np.flatnonzero(by_column != before)


def change_keys(logits: torch.Tensor, height: int, width: int) -> np.ndarray:
    """(K, h, w) float32 CPU logits -> sorted change keys of ``interpolate(...) > 0``, exact."""
    if logits.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if bool(torch.isfinite(logits).all()):
        keys = sparse_change_keys(logits.numpy(), height, width)
        if keys is not None:
            return keys
    return dense_change_keys(logits, height, width)
