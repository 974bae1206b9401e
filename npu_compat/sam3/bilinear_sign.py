"""The sign of ``F.interpolate(logits, (H, W), mode="bilinear", align_corners=False)`` at chosen pixels, without
interpolating every pixel.

Exactness rests on reproducing torch's CPU kernel bit for bit (checked against it in the tests):

- per axis, ``src = fma(in/out, dst + 0.5, -0.5)`` in float32, clamped at 0; ``lo = int(src)``,
  ``hi = min(lo + 1, in - 1)``, ``w_hi = src - lo``, ``w_lo = 1 - w_hi`` (``axis_table``);
- per pixel, rows first then columns: ``r = fma(L[lo_y, lo_x], wx_lo, L[lo_y, hi_x] * wx_hi)`` (and ``r'`` on
  row ``hi_y``), ``out = fma(r, wy_lo, r' * wy_hi)`` in float32 (``exact_positive``).

A pixel whose four source logits are all ``> TINY`` is positive and one whose four are all ``<= 0`` is not,
whatever the weights (convex combinations keep the sign, ``TINY`` keeps products clear of underflow). Only
pixels of "mixed" cells are evaluated, first in float64 and, within rounding distance of 0, with an exact
float32 FMA emulation. Logits must be finite (``mask_changes`` sends other chunks to torch itself).

``mask_changes`` uses these to find where the thresholded masks change value.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TINY = 1e-30  # corners above this give products that cannot underflow to 0
NEGATIVE, POSITIVE = -4, 4  # cell classes; anything else is mixed
SIGN_MARGIN = 1e-5  # |plain float32 value| above this x max|corner|: same sign as the kernel (errors ~4 eps32)


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
    h, w = logits.shape[1], logits.shape[2]
    flat = logits.reshape(-1)
    top = mask * (h * w) + rows.lo[y] * w
    bottom = mask * (h * w) + rows.hi[y] * w
    x_lo, x_hi = cols.lo[x], cols.hi[x]
    return Corners(flat.take(top + x_lo), flat.take(top + x_hi), flat.take(bottom + x_lo), flat.take(bottom + x_hi),
                   cols.w_lo.take(x), cols.w_hi.take(x), rows.w_lo.take(y), rows.w_hi.take(y))


def exact_values(c: Corners) -> np.ndarray:
    """torch's float32 bilinear arithmetic, emulated bit for bit."""
    top = fma_f32(c.top_left, c.wx_lo, c.top_right * c.wx_hi)
    bottom = fma_f32(c.bottom_left, c.wx_lo, c.bottom_right * c.wx_hi)
    return fma_f32(top, c.wy_lo, bottom * c.wy_hi)


def bilinear_positive(logits: np.ndarray, mask: np.ndarray, y: np.ndarray, x: np.ndarray,
                      rows: AxisTable, cols: AxisTable) -> np.ndarray:
    """Exact ``interpolated > 0`` at the given pixels: plain float32 where the sign is clear, emulation near 0."""
    c = gather_corners(logits, mask, y, x, rows, cols)
    value = (c.top_left * c.wx_lo + c.top_right * c.wx_hi) * c.wy_lo
    value += (c.bottom_left * c.wx_lo + c.bottom_right * c.wx_hi) * c.wy_hi
    scale = np.maximum(np.maximum(np.abs(c.top_left), np.abs(c.top_right)),
                       np.maximum(np.abs(c.bottom_left), np.abs(c.bottom_right)))
    positive = value > 0
    unsure = np.flatnonzero(np.abs(value) <= np.float32(SIGN_MARGIN) * scale + np.float32(1e-37))
    if unsure.size:
        near = gather_corners(logits, mask[unsure], y[unsure], x[unsure], rows, cols)
        positive[unsure] = exact_values(near) > 0
    return positive


def cell_classes(logits: np.ndarray) -> np.ndarray:
    """(K, h, w) -> int8 class of the cell whose top-left corner is (p, j), edges clamped as torch does:
    the sum of its corners' signs (+1 above ``TINY``, -1 at most 0, else 0); only +-4 are decided."""
    count, h, w = logits.shape
    sign = np.empty((count, h + 1, w + 1), dtype=np.int8)
    np.subtract((logits > TINY).view(np.int8), (logits <= 0).view(np.int8), out=sign[:, :h, :w])
    sign[:, h, :w] = sign[:, h - 1, :w]
    sign[:, :, w] = sign[:, :, w - 1]
    pairs = sign[:, :-1] + sign[:, 1:]
    return pairs[:, :, :-1] + pairs[:, :, 1:]


class SparseSign:
    """Pixel values of one chunk: cell class where decided, interpolation where mixed."""

    def __init__(self, logits: np.ndarray, height: int, width: int) -> None:
        self.logits = logits
        self.height, self.width = height, width
        self.rows = axis_table(logits.shape[1], height)
        self.cols = axis_table(logits.shape[2], width)
        self.classes = cell_classes(logits)

    def values(self, mask: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        h, w = self.logits.shape[1], self.logits.shape[2]
        cls = self.classes.reshape(-1).take(mask * (h * w) + self.rows.lo[y] * w + self.cols.lo[x])
        out = cls == POSITIVE
        mixed = np.flatnonzero((cls != POSITIVE) & (cls != NEGATIVE))
        if mixed.size:
            out[mixed] = bilinear_positive(self.logits, mask[mixed], y[mixed], x[mixed], self.rows, self.cols)
        return out
