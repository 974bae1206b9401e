"""``F.interpolate(logits, (H, W), mode="bilinear", align_corners=False) > 0`` of whole masks, column-major (as
COCO RLE wants them), through OpenCV's float32 bilinear resize, made exact.

OpenCV's resize is several times faster than torch's CPU kernel (separable, vectorised, into one reused buffer),
but it rounds its source coordinates differently, so its weights differ from torch's by ~5e-5 and its values by
up to ``bound x max|logit|``. Every pixel OpenCV puts within that distance of 0 is recomputed with torch's own
arithmetic (``bilinear_sign.exact_values``); every other pixel has the sign torch gives it.

The bound is measured, not assumed (``resize_bound``): OpenCV's linear resize is a separable linear map whose
output at each pixel combines, per axis, source samples next to torch's two. For each axis, 8 probe images that
are 1 on source indices ``r (mod 8)`` and 0 elsewhere, constant along the other axis, are resized at the very
sizes in use; each output pixel then shows OpenCV's total weight on each residue class, and ``D`` is the largest
total difference to torch's weights (``axis_table``) over all pixels (exact as long as OpenCV's taps for one
output lie within 8 consecutive source indices). Then ``|opencv - torch| <= (2 (Dx + Dy) + 64 eps) max|logit|``
(the product of two weight rows differs from torch's by at most ``Dx + Dy`` to first order; 64 float32 epsilons
cover both sides' rounding, and the factor 2 the second-order terms with room to spare). The measurement is
cached per (source size, image size, OpenCV thread count, IPP on or off); a bound above ``MAX_BOUND`` (an OpenCV
that does not interpolate like this) or no OpenCV at all makes ``positive_by_column`` return None, and the
caller uses torch.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

import numpy as np

from npu_compat.sam3.bilinear_sign import axis_table, exact_values, gather_corners

PROBE_PERIOD = 8  # residue classes per axis in the probes: OpenCV's taps must lie within this many source indices
MAX_BOUND = 1e-3  # relative error above which OpenCV's resize is not used
ROUNDING = 64 * float(np.finfo(np.float32).eps)
TINY_MARGIN = 1e-36  # absolute floor: products near float32's underflow are always recomputed

_local = threading.local()


def _opencv() -> Any:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def load() -> bool:
    """Imports OpenCV now (e.g. once before forking workers); whether it is there."""
    return _opencv() is not None


@contextmanager
def one_thread() -> Iterator[None]:
    """OpenCV on one thread for the duration, then as before. Workers forked meanwhile inherit one thread, as a
    pool that already uses every core wants; they must not set it themselves: the parent's OpenCV pool threads do
    not exist in a forked child, and ``cv2.setNumThreads`` there can wait for them forever."""
    cv2 = _opencv()
    if cv2 is None:
        yield
        return
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _probe_error(cv2: Any, src_rows: int, src_cols: int, dst_rows: int, dst_cols: int, axis: int) -> float:
    """Largest total difference, over all output pixels, between OpenCV's and torch's weights along ``axis``."""
    size_in, size_out = (src_rows, dst_rows) if axis == 0 else (src_cols, dst_cols)
    table = axis_table(size_in, size_out)
    total = np.zeros((dst_rows, dst_cols), np.float32)
    for residue in range(PROBE_PERIOD):
        probe = np.zeros((src_rows, src_cols), np.float32)
        expected = (table.w_lo * (table.lo % PROBE_PERIOD == residue)
                    + table.w_hi * (table.hi % PROBE_PERIOD == residue)).astype(np.float32)
        if axis == 0:
            probe[residue::PROBE_PERIOD, :] = 1
            expected = expected[:, None]
        else:
            probe[:, residue::PROBE_PERIOD] = 1
            expected = expected[None, :]
        got = cv2.resize(probe, (dst_cols, dst_rows), interpolation=cv2.INTER_LINEAR)
        total += np.abs(got - expected)
    return float(total.max())


@lru_cache(maxsize=64)
def _measured_bound(src_rows: int, src_cols: int, dst_rows: int, dst_cols: int, threads: int, ipp: bool) -> float:
    cv2 = _opencv()
    error = sum(_probe_error(cv2, src_rows, src_cols, dst_rows, dst_cols, axis) for axis in (0, 1))
    return 2 * error + ROUNDING


def resize_bound(src_rows: int, src_cols: int, dst_rows: int, dst_cols: int) -> float | None:
    """``b`` with ``|cv2.resize(x) - torch's interpolate(x)| <= b max|x|`` at these sizes, or None (no OpenCV, or
    an OpenCV whose resize is too far from torch's)."""
    cv2 = _opencv()
    if cv2 is None:
        return None
    bound = _measured_bound(src_rows, src_cols, dst_rows, dst_cols, cv2.getNumThreads(), bool(cv2.ipp.useIPP()))
    return bound if bound <= MAX_BOUND else None


def _buffers(count: int, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's reused buffers (one mask's float values, a chunk's near-zero flags): no fresh pages per mask."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None or buffers[0].shape != (rows, cols) or buffers[1].shape[0] < count:
        buffers = (np.empty((rows, cols), np.float32), np.empty((count, rows, cols), np.bool_))
        _local.buffers = buffers
    return buffers[0], buffers[1][:count]


def positive_by_column(logits: np.ndarray, height: int, width: int) -> np.ndarray | None:
    """(K, h, w) finite float32 logits -> (K, W, H) bool ``interpolate(...) > 0`` transposed (column-major), or
    None where OpenCV cannot be used (see the module docstring)."""
    count, h, w = logits.shape
    bound = resize_bound(w, h, width, height)  # the transposed logits are resized: rows are image columns
    if bound is None:
        return None
    cv2 = _opencv()
    out = np.empty((count, width, height), np.bool_)
    values, unsure = _buffers(count, width, height)
    margins = (bound * np.maximum(-logits.min(axis=(1, 2)), logits.max(axis=(1, 2))) + TINY_MARGIN).tolist()
    for k, margin in enumerate(margins):
        values = cv2.resize(cv2.transpose(logits[k]), (height, width), dst=values, interpolation=cv2.INTER_LINEAR)
        np.greater(values, margin, out=out[k])  # clearly positive
        np.greater(values, -margin, out=unsure[k])
        np.not_equal(unsure[k], out[k], out=unsure[k])  # within the margin of 0: recomputed below
    flat = _nonzero_bytes(unsure.reshape(-1).view(np.uint8))
    if flat.size:  # one exact recomputation for the whole chunk
        mask, pixel = np.divmod(flat, width * height)
        x, y = np.divmod(pixel, height)  # rows are image columns
        corners = gather_corners(logits, mask, y, x, axis_table(h, height), axis_table(w, width))
        out[mask, x, y] = exact_values(corners) > 0
    return out


def _nonzero_bytes(flags: np.ndarray) -> np.ndarray:
    """Indices of the nonzero bytes of a sparse uint8 array: nonzero 8-byte words first, then their bytes."""
    whole = flags.size // 8 * 8
    words = np.flatnonzero(flags[:whole].view(np.uint64))
    word, byte = np.nonzero(flags[:whole].reshape(-1, 8)[words])
    found = words[word] * 8 + byte
    if whole == flags.size:
        return found
    return np.concatenate([found, np.flatnonzero(flags[whole:]) + whole])


def boxes_by_column(positive: np.ndarray) -> np.ndarray:
    """(K, W, H) bool column-major masks -> (K, 4) float32 ``[x, y, w, h]`` pixel extents; zeros for empty masks."""
    cv2 = _opencv()
    boxes = np.zeros((positive.shape[0], 4), np.float32)
    for k, mask in enumerate(positive.view(np.uint8)):
        top, left, tall, wide = cv2.boundingRect(mask)  # rows are image columns: (y, x, h, w) of the image
        boxes[k] = (left, top, wide, tall)
    return boxes


__all__ = ["load", "one_thread", "resize_bound", "positive_by_column", "boxes_by_column", "PROBE_PERIOD", "MAX_BOUND"]
