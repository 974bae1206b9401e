"""Where ``F.interpolate(logits, (H, W), mode="bilinear", align_corners=False) > 0`` changes value, in COCO
RLE order, for a chunk of masks.

Positions are column-major (``t = x * H + y``); a "change" at ``t`` means pixel ``t`` differs from pixel
``t - 1`` (pixel ``-1`` counts as 0). Keys are ``mask * H * W + t``, sorted.

Sparse path: output rows sharing a source row ``lo`` form a segment; in one column a segment can hold a
change only if its cell is mixed or its class differs from the previous segment's (``bilinear_sign``). For
mixed (cell, column) items the two source-row values are interpolated once, each pixel of the segment (and
the one just above it) takes 2 multiplies, and pixels within rounding distance of 0 are recomputed with
torch's exact arithmetic. Dense path (non-finite logits, or mostly mixed chunks): torch's own interpolate.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from npu_compat.sam3.bilinear_sign import POSITIVE, SIGN_MARGIN, SparseSign, axis_table, exact_values, gather_corners

DENSE_FRACTION = 0.15  # more mixed (segment, column) items than this share: the dense path is cheaper


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with ``counts`` sub-items each: (item index, rank within item) of every sub-item."""
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - first[owner]


def _cells(sign: SparseSign) -> tuple[np.ndarray, np.ndarray]:
    """(used-cell grid transposed to (K, columns, rows), mixed-cell mask), column-major like the keys."""
    rows, cols = sign.rows, sign.cols
    grid = sign.classes
    if rows.segment_src.size != grid.shape[1]:
        grid = grid[:, rows.segment_src]
    if cols.segment_src.size != grid.shape[2]:
        grid = grid[:, :, cols.segment_src]
    grid = np.ascontiguousarray(grid.transpose(0, 2, 1))
    return grid, np.abs(grid) != POSITIVE


def _jump_keys(sign: SparseSign, grid: np.ndarray, mixed: np.ndarray) -> np.ndarray:
    """Decided cells right below a decided cell of the other class (only when downsampling skips rows):
    a change at the segment's first row in each of the cell's columns."""
    jump = ~mixed[:, :, 1:] & ~mixed[:, :, :-1] & (grid[:, :, 1:] != grid[:, :, :-1])
    if not jump.any():
        return np.zeros(0, dtype=np.int64)
    mask, seg_col, seg_row = np.nonzero(jump)
    rows, cols = sign.rows, sign.cols
    col_count = cols.segment_end[seg_col] - cols.segment_start[seg_col]
    cell, rank = _expand(col_count)
    x = cols.segment_start[seg_col][cell] + rank
    y = rows.segment_start[seg_row + 1][cell]
    return mask[cell] * (sign.height * sign.width) + x * sign.height + y


def _pixel_positive(logits: np.ndarray, mask: np.ndarray, y: np.ndarray, x: np.ndarray, sign: SparseSign,
                    low: np.ndarray, high: np.ndarray, clear: np.float32) -> np.ndarray:
    """Exact sign at pixels whose two source-row values (plain float32) are known."""
    rows = sign.rows
    value = low * rows.w_lo.take(y) + high * rows.w_hi.take(y)
    positive = value > 0
    unsure = np.flatnonzero(np.abs(value) <= clear)
    if unsure.size:
        corners = gather_corners(logits, mask[unsure], y[unsure], x[unsure], rows, sign.cols)
        positive[unsure] = exact_values(corners) > 0
    return positive


def _item_row_values(logits: np.ndarray, sign: SparseSign, mask: np.ndarray, seg_row: np.ndarray,
                     seg_col: np.ndarray, cell: np.ndarray, item_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain float32 values of each item's two source rows at its column."""
    rows, cols = sign.rows, sign.cols
    h, w = logits.shape[1], logits.shape[2]
    top = mask * (h * w) + rows.segment_src[seg_row] * w
    bottom = mask * (h * w) + rows.hi[rows.segment_start[seg_row]] * w
    left, right = cols.segment_src[seg_col], cols.hi[cols.segment_start[seg_col]]
    flat = logits.reshape(-1)
    top_left, top_right = flat.take((top + left).take(cell)), flat.take((top + right).take(cell))
    bottom_left, bottom_right = flat.take((bottom + left).take(cell)), flat.take((bottom + right).take(cell))
    w_lo, w_hi = cols.w_lo.take(item_x), cols.w_hi.take(item_x)
    return top_left * w_lo + top_right * w_hi, bottom_left * w_lo + bottom_right * w_hi


def sparse_change_keys(logits: np.ndarray, height: int, width: int, magnitude: float | None = None
                       ) -> np.ndarray | None:
    """Sorted change keys of a chunk of finite logits, or None when too much of it is mixed.

    Per (cell, column) item the segment's two source-row values r0, r1 decide it when both are clearly of
    one sign (``fma(r0, w0, r1 * w1)`` then has that sign for every weight); otherwise its pixels are
    evaluated. "Clearly" is ``SIGN_MARGIN`` times ``magnitude`` (max |logit| of the chunk), far above the
    float32 rounding of either computation. A change at a segment's first pixel is found against the last
    pixel of the segment above; decided cells need no items: a change at their first row is found from the
    mixed cell above them, or (downsampling only) from a decided cell of the other class (``_jump_keys``).
    """
    if magnitude is None:
        magnitude = float(np.abs(logits).max())
    clear = np.float32(SIGN_MARGIN * magnitude + 1e-36)
    sign = SparseSign(logits, height, width)
    rows, cols = sign.rows, sign.cols
    grid, mixed_cells = _cells(sign)
    flat = np.flatnonzero(mixed_cells)
    used_rows = grid.shape[2]
    mask, seg_col, seg_row = np.unravel_index(flat, grid.shape)
    col_count = cols.segment_end[seg_col] - cols.segment_start[seg_col]
    if int(col_count.sum()) > DENSE_FRACTION * logits.shape[0] * width * used_rows:
        return None
    area = height * width
    cell, rank = _expand(col_count)  # one item per (mixed cell, column)
    item_mask, item_x = mask.take(cell), cols.segment_start.take(seg_col).take(cell) + rank
    y_first = rows.segment_start.take(seg_row).take(cell)
    low, high = _item_row_values(logits, sign, mask, seg_row, seg_col, cell, item_x)
    first_value = (low > clear) & (high > clear)
    last_value = first_value.copy()
    uneven = np.flatnonzero(~(first_value | ((low < -clear) & (high < -clear))))
    keys = [_column_start_keys(sign), _jump_keys(sign, grid, mixed_cells)]
    if uneven.size:  # items whose pixels are evaluated one by one
        owner, offset = _expand(rows.segment_end.take(seg_row).take(cell.take(uneven)) - y_first.take(uneven))
        item = uneven.take(owner)
        y = y_first.take(item) + offset
        positive = _pixel_positive(logits, item_mask.take(item), y, item_x.take(item), sign,
                                   low.take(item), high.take(item), clear)
        starts = np.flatnonzero(offset == 0)
        first_value[uneven] = positive.take(starts)
        last_value[uneven] = positive.take(np.r_[starts[1:], positive.size] - 1)
        inner = np.flatnonzero((owner[1:] == owner[:-1]) & (positive[1:] != positive[:-1])) + 1
        keys.append(item_mask.take(item.take(inner)) * area + item_x.take(item.take(inner)) * height + y.take(inner))
    classes = grid.reshape(-1)
    # above a mixed segment: the previous mixed cell if it is flat - 1 (same column), else a decided cell
    above_mixed = np.zeros(flat.size, dtype=bool)
    above_mixed[1:] = flat[:-1] == flat[1:] - 1
    above_mixed &= seg_row > 0
    first_item = np.cumsum(col_count) - col_count
    above_value = classes.take(np.maximum(flat - 1, 0)).take(cell) == POSITIVE
    via_item = np.flatnonzero(above_mixed.take(cell))
    above_value[via_item] = last_value.take(first_item.take(cell.take(via_item) - 1) + rank.take(via_item))
    changed = np.flatnonzero((seg_row > 0).take(cell) & (above_value != first_value))
    keys.append(item_mask.take(changed) * area + item_x.take(changed) * height + y_first.take(changed))
    # below a mixed segment, a decided cell: its class against the segment's last pixel
    below = np.minimum(flat + 1, classes.size - 1)
    below_decided = (seg_row < used_rows - 1) & ~mixed_cells.reshape(-1).take(below)
    below_value = classes.take(below).take(cell) == POSITIVE
    changed = np.flatnonzero(below_decided.take(cell) & (below_value != last_value))
    y_next = rows.segment_end.take(seg_row).take(cell.take(changed))
    keys.append(item_mask.take(changed) * area + item_x.take(changed) * height + y_next)
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


def finite_magnitude(logits: np.ndarray) -> float | None:
    """max |logit| of a chunk, or None if any logit is NaN or infinite."""
    low, high = float(logits.min()), float(logits.max())  # min/max propagate NaN
    return max(-low, high) if np.isfinite(low) and np.isfinite(high) else None


def dense_positive_by_column(logits: np.ndarray, height: int, width: int, magnitude: float) -> np.ndarray:
    """(K, W, H) bool: ``interpolate(logits, (H, W)) > 0`` transposed, i.e. column-major as COCO RLE wants it.

    Torch interpolates the transposed logits (so the result comes out column-major, no transpose of the
    full-size mask); that sums the same terms in another order, so pixels within rounding distance of 0
    (``SIGN_MARGIN`` x ``magnitude``) are recomputed with torch's own arithmetic (``exact_values``)."""
    flipped = torch.from_numpy(np.ascontiguousarray(logits.transpose(0, 2, 1)))
    values = F.interpolate(flipped.unsqueeze(1), (width, height), mode="bilinear", align_corners=False)
    values_np = values.squeeze(1).numpy()
    positive = values_np > 0
    clear = np.float32(SIGN_MARGIN * magnitude + 1e-36)
    unsure = np.flatnonzero(np.abs(values_np) <= clear)
    if unsure.size:
        mask, x, y = np.unravel_index(unsure, values_np.shape)
        rows, cols = axis_table(logits.shape[1], height), axis_table(logits.shape[2], width)
        positive.reshape(-1)[unsure] = exact_values(gather_corners(logits, mask, y, x, rows, cols)) > 0
    return positive


def sparse_keys_if_cheap(logits: torch.Tensor, height: int, width: int) -> np.ndarray | None:
    """Sorted change keys by the sparse path, or None for non-finite or mostly mixed chunks."""
    if logits.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    array = logits.numpy()
    magnitude = finite_magnitude(array)
    return None if magnitude is None else sparse_change_keys(array, height, width, magnitude)


def change_keys(logits: torch.Tensor, height: int, width: int) -> np.ndarray:
    """(K, h, w) float32 CPU logits -> sorted change keys of ``interpolate(...) > 0``, exact."""
    keys = sparse_keys_if_cheap(logits, height, width)
    return dense_change_keys(logits, height, width) if keys is None else keys
