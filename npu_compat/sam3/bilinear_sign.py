"""Where ``F.interpolate(logits, (H, W), mode="bilinear", align_corners=False) > 0`` changes value, without
interpolating every pixel.

Exactness rests on reproducing torch's CPU kernel bit for bit (checked against it in the tests):

- per axis, ``src = fma(in/out, dst + 0.5, -0.5)`` in float32, clamped at 0; ``lo = int(src)``,
  ``hi = min(lo + 1, in - 1)``, ``w_hi = src - lo``, ``w_lo = 1 - w_hi`` (``axis_table``);
- per pixel, rows first then columns: ``r = fma(L[lo_y, lo_x], wx_lo, L[lo_y, hi_x] * wx_hi)`` (and ``r'`` on
  row ``hi_y``), ``out = fma(r, wy_lo, r' * wy_hi)`` in float32 (``exact_positive``).

A pixel whose four source logits are all ``> TINY`` is positive and one whose four are all ``<= 0`` is not,
whatever the weights (convex combinations keep the sign, ``TINY`` keeps products clear of underflow). Only
pixels of "mixed" cells are evaluated, first in float64 and, within rounding distance of 0, with an exact
float32 FMA emulation. Non-finite logits take the dense path (``dense_change_keys``), which calls torch itself.

Positions are column-major (``x * H + y``, COCO RLE order); a "change" at ``t`` means pixel ``t`` differs
from pixel ``t - 1`` (pixel ``-1`` counts as 0). Keys are ``mask * H * W + t``, sorted.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

TINY = 1e-30  # corners above this give products that cannot underflow to 0
NEGATIVE, POSITIVE, MIXED = 0, 1, 2
SIGN_MARGIN = 1e-5  # |float64 value| above this x max|corner| has the float32 kernel's sign (error ~4 eps32)
DENSE_FRACTION = 0.25  # more evaluated pixels than this share of the output: the dense path is cheaper


@dataclass(frozen=True)
class AxisTable:
    """torch's source indices and weights along one axis, and the runs of outputs sharing a ``lo`` index."""

    lo: np.ndarray
    hi: np.ndarray
    w_lo: np.ndarray
    w_hi: np.ndarray
    segment_src: np.ndarray  # distinct ``lo`` values, in output order
    segment_start: np.ndarray  # first output index of each segment
    segment_end: np.ndarray  # one past the last


@lru_cache(maxsize=64)
def axis_table(size_in: int, size_out: int) -> AxisTable:
    scale = np.float32(size_in) / np.float32(size_out)
    # float32 fma(scale, dst + 0.5, -0.5): exact in float64 (<= 42 significant bits), then one rounding
    src = (np.float64(scale) * (np.arange(size_out) + 0.5) - 0.5).astype(np.float32)
    src = np.maximum(src, np.float32(0))
    lo = src.astype(np.int64)
    hi = np.minimum(lo + 1, size_in - 1)
    w_hi = np.clip(src - lo.astype(np.float32), np.float32(0), np.float32(1)).astype(np.float32)
    w_lo = (np.float32(1) - w_hi).astype(np.float32)
    starts = np.flatnonzero(np.r_[True, lo[1:] != lo[:-1]])
    ends = np.r_[starts[1:], size_out]
    return AxisTable(lo, hi, w_lo, w_hi, lo[starts], starts, ends)


def fma_f32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Correctly rounded float32 ``a * b + c`` for float32 inputs: exact product and TwoSum in float64,
    rounded to odd, then to float32 (round-to-odd at 53 bits makes the second rounding exact)."""
    prod = a.astype(np.float64) * b.astype(np.float64)
    c64 = c.astype(np.float64)
    total = prod + c64
    back = total - prod
    err = (prod - (total - back)) + (c64 - back)
    even_inexact = (err != 0) & ((total.view(np.int64) & 1) == 0)
    toward = np.where(err > 0, np.inf, -np.inf)
    total = np.where(even_inexact, np.nextafter(total, toward), total)
    return total.astype(np.float32)


@dataclass
class Corners:
    """The four source logits and the weights of a set of output pixels."""

    top_left: np.ndarray
    top_right: np.ndarray
    bottom_left: np.ndarray
    bottom_right: np.ndarray
    wx_lo: np.ndarray
    wx_hi: np.ndarray
    wy_lo: np.ndarray
    wy_hi: np.ndarray


def gather_corners(logits: np.ndarray, mask: np.ndarray, y: np.ndarray, x: np.ndarray,
                   rows: AxisTable, cols: AxisTable) -> Corners:
    y_lo, y_hi, x_lo, x_hi = rows.lo[y], rows.hi[y], cols.lo[x], cols.hi[x]
    return Corners(logits[mask, y_lo, x_lo], logits[mask, y_lo, x_hi], logits[mask, y_hi, x_lo],
                   logits[mask, y_hi, x_hi], cols.w_lo[x], cols.w_hi[x], rows.w_lo[y], rows.w_hi[y])


def exact_values(c: Corners) -> np.ndarray:
    """torch's float32 bilinear arithmetic, emulated bit for bit."""
    top = fma_f32(c.top_left, c.wx_lo, c.top_right * c.wx_hi)
    bottom = fma_f32(c.bottom_left, c.wx_lo, c.bottom_right * c.wx_hi)
    return fma_f32(top, c.wy_lo, bottom * c.wy_hi)


def bilinear_positive(logits: np.ndarray, mask: np.ndarray, y: np.ndarray, x: np.ndarray,
                      rows: AxisTable, cols: AxisTable) -> np.ndarray:
    """Exact ``interpolated > 0`` at the given pixels: float64 where the sign is clear, emulation near 0."""
    c = gather_corners(logits, mask, y, x, rows, cols)
    f64 = np.float64
    top = c.top_left.astype(f64) * c.wx_lo + c.top_right.astype(f64) * c.wx_hi
    bottom = c.bottom_left.astype(f64) * c.wx_lo + c.bottom_right.astype(f64) * c.wx_hi
    value = top * c.wy_lo + bottom * c.wy_hi
    scale = np.maximum(np.maximum(np.abs(c.top_left), np.abs(c.top_right)),
                       np.maximum(np.abs(c.bottom_left), np.abs(c.bottom_right)))
    positive = value > 0
    unsure = np.flatnonzero(np.abs(value) <= SIGN_MARGIN * scale)
    if unsure.size:
        near = gather_corners(logits, mask[unsure], y[unsure], x[unsure], rows, cols)
        positive[unsure] = exact_values(near) > 0
    return positive


def cell_classes(logits: np.ndarray) -> np.ndarray:
    """(K, h, w) -> int8 class of the cell whose top-left corner is (p, j), edges clamped as torch does."""
    padded = np.concatenate([logits, logits[:, -1:]], axis=1)
    padded = np.concatenate([padded, padded[:, :, -1:]], axis=2)
    classes = np.full(logits.shape, MIXED, dtype=np.int8)
    for sign, test in ((POSITIVE, padded > TINY), (NEGATIVE, padded <= 0)):
        every = test[:, :-1, :-1] & test[:, 1:, :-1] & test[:, :-1, 1:] & test[:, 1:, 1:]
        classes[every] = sign
    return classes


class SparseSign:
    """Pixel values of one chunk: cell class where decided, interpolation where mixed."""

    def __init__(self, logits: np.ndarray, height: int, width: int) -> None:
        self.logits = logits
        self.height, self.width = height, width
        self.rows = axis_table(logits.shape[1], height)
        self.cols = axis_table(logits.shape[2], width)
        self.classes = cell_classes(logits)

    def values(self, mask: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        cls = self.classes[mask, self.rows.lo[y], self.cols.lo[x]]
        out = cls == POSITIVE
        mixed = np.flatnonzero(cls == MIXED)
        if mixed.size:
            out[mixed] = bilinear_positive(self.logits, mask[mixed], y[mixed], x[mixed], self.rows, self.cols)
        return out


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with ``counts`` sub-items each: (item index, rank within item) of every sub-item."""
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - first[owner]


def sparse_change_keys(logits: np.ndarray, height: int, width: int) -> np.ndarray | None:
    """Sorted change keys of the chunk, or None when too much of it is mixed (use ``dense_change_keys``)."""
    sign = SparseSign(logits, height, width)
    rows, cols = sign.rows, sign.cols
    grid = sign.classes[:, rows.segment_src][:, :, cols.segment_src]  # classes of the cells outputs use
    interesting = grid == MIXED
    interesting[:, 1:] |= grid[:, 1:] != grid[:, :-1]
    mask, seg_row, seg_col = np.nonzero(interesting)
    col_count = cols.segment_end[seg_col] - cols.segment_start[seg_col]
    first_row = np.maximum(rows.segment_start[seg_row] - 1, 0)  # the pixel before the segment, if any
    row_count = rows.segment_end[seg_row] - first_row
    if int((col_count * row_count).sum()) > DENSE_FRACTION * logits.shape[0] * height * width:
        return None
    cell, rank = _expand(col_count)  # one item per (cell, column)
    column = cols.segment_start[seg_col][cell] + rank
    item, rank = _expand(row_count[cell])  # one item per pixel, the segment's column top-down
    pixel_mask, x = mask[cell][item], column[item]
    y = first_row[cell][item] + rank
    value = sign.values(pixel_mask, y, x)
    inner = np.flatnonzero((item[1:] == item[:-1]) & (value[1:] != value[:-1])) + 1
    keys = [pixel_mask[inner] * (height * width) + x[inner] * height + y[inner]]
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
    if bool(torch.isfinite(logits).all()):
        keys = sparse_change_keys(array, height, width)
        if keys is not None:
            return keys
    return dense_change_keys(logits, height, width)
