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

from npu_compat.sam3.bilinear_sign import NEGATIVE, POSITIVE, SIGN_MARGIN, SparseSign, exact_values, gather_corners

DENSE_FRACTION = 0.25  # evaluating more pixels than this share of the output: the dense path is cheaper


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with ``counts`` sub-items each: (item index, rank within item) of every sub-item."""
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - first[owner]


def _interesting_cells(sign: SparseSign) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(used-cell grid, flat indices of the cells that can hold a change (mixed, or a class change from the
    cell above), and those cells' classes above them)."""
    rows, cols = sign.rows, sign.cols
    grid = sign.classes
    if rows.segment_src.size != grid.shape[1]:
        grid = grid[:, rows.segment_src]
    if cols.segment_src.size != grid.shape[2]:
        grid = grid[:, :, cols.segment_src]
    interesting = np.abs(grid) != POSITIVE  # mixed
    interesting[:, 1:] |= grid[:, 1:] != grid[:, :-1]
    return grid, np.flatnonzero(interesting)


def _pixel_positive(logits: np.ndarray, mask: np.ndarray, y: np.ndarray, x: np.ndarray, sign: SparseSign,
                    low: np.ndarray, high: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Exact sign at pixels whose two source-row values (plain float32) are known."""
    rows = sign.rows
    value = low * rows.w_lo.take(y) + high * rows.w_hi.take(y)
    positive = value > 0
    unsure = np.flatnonzero(np.abs(value) <= np.float32(SIGN_MARGIN) * scale + np.float32(1e-37))
    if unsure.size:
        corners = gather_corners(logits, mask[unsure], y[unsure], x[unsure], rows, sign.cols)
        positive[unsure] = exact_values(corners) > 0
    return positive


def _item_row_values(logits: np.ndarray, sign: SparseSign, mask: np.ndarray, seg_row: np.ndarray,
                     seg_col: np.ndarray, cell: np.ndarray, item_x: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain float32 values of each item's two source rows at its column, and max |corner| of its cell."""
    rows, cols = sign.rows, sign.cols
    h, w = logits.shape[1], logits.shape[2]
    top = mask * (h * w) + rows.segment_src[seg_row] * w
    bottom = mask * (h * w) + rows.hi[rows.segment_start[seg_row]] * w
    left, right = cols.segment_src[seg_col], cols.hi[cols.segment_start[seg_col]]
    flat = logits.reshape(-1)
    corners = [flat.take(top + left), flat.take(top + right), flat.take(bottom + left), flat.take(bottom + right)]
    scale = np.maximum(np.maximum(np.abs(corners[0]), np.abs(corners[1])),
                       np.maximum(np.abs(corners[2]), np.abs(corners[3])))
    a, b, c, d = (corner.take(cell) for corner in corners)
    w_lo, w_hi = cols.w_lo.take(item_x), cols.w_hi.take(item_x)
    return a * w_lo + b * w_hi, c * w_lo + d * w_hi, scale.take(cell)


def sparse_change_keys(logits: np.ndarray, height: int, width: int) -> np.ndarray | None:
    """Sorted change keys of a chunk of finite logits, or None when too much of it is mixed.

    Per (cell, column) item the segment's two source-row values r0, r1 decide it when both are clearly of
    one sign (``fma(r0, w0, r1 * w1)`` then has that sign for every weight); otherwise its pixels are
    evaluated. A change at the segment's first pixel is found against the last pixel of the segment above.
    """
    sign = SparseSign(logits, height, width)
    rows, cols = sign.rows, sign.cols
    grid, flat = _interesting_cells(sign)
    used_rows, used_cols = grid.shape[1], grid.shape[2]
    mask, seg_row, seg_col = np.unravel_index(flat, grid.shape)
    col_count = cols.segment_end[seg_col] - cols.segment_start[seg_col]
    if int(col_count.sum()) > DENSE_FRACTION * logits.shape[0] * width * used_rows:
        return None
    cell, rank = _expand(col_count)  # one item per (cell, column)
    item_mask, item_x = mask[cell], cols.segment_start[seg_col][cell] + rank
    y_first = rows.segment_start[seg_row][cell]
    y_end = rows.segment_end[seg_row][cell]
    cell_class = grid.reshape(-1).take(flat)
    first_value = (cell_class == POSITIVE).take(cell)  # decided cells: their class
    last_value = first_value.copy()
    keys = []
    mixed_cell = (cell_class != POSITIVE) & (cell_class != NEGATIVE)
    mixed_item = np.flatnonzero(mixed_cell.take(cell))
    low, high, scale = _item_row_values(logits, sign, mask, seg_row, seg_col, cell[mixed_item], item_x[mixed_item])
    clear = np.float32(SIGN_MARGIN) * scale + np.float32(1e-36)
    all_positive = (low > clear) & (high > clear)
    first_value[mixed_item] = all_positive
    last_value[mixed_item] = all_positive
    uneven = np.flatnonzero(~(all_positive | ((low < -clear) & (high < -clear))))
    mixed = mixed_item[uneven]  # items whose pixels are evaluated one by one
    if mixed.size:
        owner, offset = _expand((y_end - y_first)[mixed])
        item = mixed[owner]
        y = y_first[item] + offset
        positive = _pixel_positive(logits, item_mask[item], y, item_x[item], sign, low[uneven][owner],
                                   high[uneven][owner], scale[uneven][owner])
        starts = np.flatnonzero(offset == 0)
        first_value[mixed] = positive[starts]
        last_value[mixed] = positive[np.r_[starts[1:], positive.size] - 1]
        inner = np.flatnonzero((owner[1:] == owner[:-1]) & (positive[1:] != positive[:-1])) + 1
        keys.append(item_mask[item[inner]] * (height * width) + item_x[item[inner]] * height + y[inner])
    # the pixel above each segment: last pixel of the cell above (an item too if interesting, else decided)
    has_above = seg_row > 0
    above_flat = np.where(has_above, flat - used_cols, 0)
    found = np.minimum(np.searchsorted(flat, above_flat), flat.size - 1)
    above_is_item = has_above & (flat[found] == above_flat)
    first_item = np.cumsum(col_count) - col_count
    above_item = np.where(above_is_item[cell], first_item[found[cell]] + rank, 0)
    above_value = np.where(above_is_item[cell], last_value[above_item], grid.reshape(-1)[above_flat[cell]] == POSITIVE)
    starts_changed = np.flatnonzero(has_above[cell] & (above_value != first_value))
    keys.append(item_mask[starts_changed] * (height * width) + item_x[starts_changed] * height + y_first[starts_changed])
    keys.append(_column_start_keys(sign))
    return np.sort(np.concatenate(keys))


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
    array = logits.numpy()
    if np.isfinite(array.min()) and np.isfinite(array.max()):  # min/max propagate NaN
        keys = sparse_change_keys(array, height, width)
        if keys is not None:
            return keys
    return dense_change_keys(logits, height, width)
