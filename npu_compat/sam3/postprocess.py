"""From SAM3 detections to COCO records. The fast path goes from low-resolution mask logits straight to COCO
RLE strings and boxes, in a worker pool that overlaps the next image.

Two paths give the same records:

- ``DevicePostprocessor`` (fast): the scores come to the host in one copy and are filtered there; the kept
  masks' logits (K, 288, 288) move to the host ``TRANSFER_BYTES`` (1 GiB) at a time (one copy, so one host sync, per
  block) and are worked on ``chunk_size`` at a time. Each mask is resized by OpenCV into one reused buffer, in
  column-major order as COCO RLE wants it, and every pixel within OpenCV's measured error bound of 0 is recomputed
  with torch's exact CPU arithmetic, so the signs are those of ``interpolate(bilinear, align_corners=False) > 0``
  bit for bit (``opencv_sign``); pycocotools encodes the chunk and the boxes come from OpenCV's bounding rectangle.
  Without OpenCV, ``mask_changes.change_keys`` finds where the mask changes value by interpolating only cells
  whose four source logits disagree in sign and ``rle_codec`` writes the strings (mostly mixed, i.e. noisy,
  chunks take torch's dense interpolation instead); chunks with non-finite logits always take the torch
  reference below. The threshold is ``logit > 0`` (upstream's ``sigmoid > 0.5`` up to float rounding, see
  ``threshold_logits``).
- ``seed_style_records`` (baseline): the seed script's per-mask loop, one numpy/cv2/pycocotools
  round per mask. Kept to measure against and for ``--sequential``.

``resize_masks``, ``boxes_from_masks``, ``masks_to_host_fortran`` and ``encode_rles`` are the dense
on-device reference the fast path is tested against.

Record: ``{"image_id", "category_id", "bbox": [x, y, w, h], "score", "segmentation": RLE}``.
The box is the mask's pixel extent, ``[x0, y0, x1 - x0 + 1, y1 - y0 + 1]``; an empty mask
gets ``[0, 0, 0, 0]``. (The seed wrote ``x1 - x0``, one pixel short of the extent.)
"""
from __future__ import annotations

import atexit
import ctypes
import mmap
import multiprocessing
import os
import signal
import sys
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from npu_compat.sam3.mask_changes import dense_positive_by_column, finite_magnitude, sparse_change_keys
from npu_compat.sam3 import opencv_sign
from npu_compat.sam3.opencv_sign import boxes_by_column, positive_by_column
from npu_compat.sam3.rle_codec import encode_chunk


def threshold_logits(logits: torch.Tensor) -> torch.Tensor:
    """Binary masks at ``logit > 0``.

    Upstream thresholds ``sigmoid(logit) > 0.5``; in float32 the two differ only for logits in
    (0, ~6e-8], far below the ~2e-6 float noise between a batched and a one-prompt forward,
    and the sigmoid pass over every full-size pixel costs as much as the resize itself on a CPU.
    """
    return logits > 0


def resize_masks(mask_logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(K, h, w) mask logits -> (K, H, W) bool at image size: bilinear, no corner alignment, as upstream."""
    if mask_logits.shape[0] == 0:
        return torch.zeros((0, height, width), dtype=torch.bool, device=mask_logits.device)
    resized = F.interpolate(mask_logits.unsqueeze(1), (height, width), mode="bilinear", align_corners=False)
    return threshold_logits(resized.squeeze(1))


def boxes_from_masks(masks: torch.Tensor) -> torch.Tensor:
    """(K, H, W) bool -> (K, 4) float32 ``[x, y, w, h]`` pixel extents; zeros for empty masks."""
    count, height, width = masks.shape
    if count == 0:
        return torch.zeros((0, 4), dtype=torch.float32, device=masks.device)
    rows = masks.any(dim=2)
    cols = masks.any(dim=1)
    y0 = rows.to(torch.uint8).argmax(dim=1)
    y1 = height - 1 - rows.flip(1).to(torch.uint8).argmax(dim=1)
    x0 = cols.to(torch.uint8).argmax(dim=1)
    x1 = width - 1 - cols.flip(1).to(torch.uint8).argmax(dim=1)
    boxes = torch.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], dim=1).to(torch.float32)
    return boxes * rows.any(dim=1, keepdim=True)


def masks_to_host_fortran(masks: torch.Tensor) -> np.ndarray:
    """(K, H, W) bool on any device -> (H, W, K) uint8 Fortran-ordered numpy, as pycocotools wants."""
    by_column = masks.transpose(1, 2).contiguous().to(torch.uint8).cpu().numpy()  # (K, W, H) C-order
    return by_column.transpose(2, 1, 0)  # (H, W, K), Fortran-contiguous view, no copy


def encode_rles(masks_hwk: np.ndarray) -> list[dict[str, Any]]:
    """One pycocotools call for K masks; ``counts`` decoded to str so the record is JSON."""
    from pycocotools import mask as mask_util

    if masks_hwk.shape[2] == 0:
        return []
    rles = mask_util.encode(masks_hwk)
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return rles


def make_records(image_id: int, category_ids: Sequence[int], scores: Sequence[float],
                 boxes_xywh: np.ndarray, rles: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """COCO result records, in the given order."""
    return [
        {"image_id": int(image_id), "category_id": int(cat), "bbox": [float(v) for v in box],
         "score": float(score), "segmentation": rle}
        for cat, score, box, rle in zip(category_ids, scores, boxes_xywh.tolist(), rles)
    ]


TRANSFER_BYTES = 1 << 30  # kept masks' float32 logits per device-to-host copy: one host sync per GiB (3236 at 288 x 288)
TRANSFER_MASKS = 0  # kept masks per copy when set; 0: as many as fit in TRANSFER_BYTES


def transfer_block(selection: "Selection") -> int:
    """Masks per device-to-host copy: ``TRANSFER_MASKS`` when set, else as many as fit in ``TRANSFER_BYTES``."""
    if TRANSFER_MASKS:
        return TRANSFER_MASKS
    height, width = selection.all_mask_logits.shape[2:]
    return max(1, TRANSFER_BYTES // (height * width * 4))


@dataclass
class HostBlock:
    """Kept masks ``start:stop`` readable on the host: ``array`` rows picked by ``index`` (no copy on the cpu)."""

    start: int
    stop: int
    array: np.ndarray
    index: np.ndarray

    def take_into(self, start: int, stop: int, out: np.ndarray) -> int:
        """Masks ``start:stop`` (run-wide numbering, inside this block) into ``out``; returns how many."""
        rows = min(stop, self.stop) - start
        np.take(self.array, self.index[start - self.start:start - self.start + rows], axis=0, out=out[:rows])
        return rows


@dataclass
class Selection:
    """Detections that pass the filters, in prompt-major, query-minor order (the seed's order).

    ``prompt_index``, ``query_index`` and ``scores`` are host (numpy) arrays, read from the device in one copy
    by ``select_detections``. The kept masks stay in ``all_mask_logits`` (P, Q, h, w) on the device and come to
    the host ``transfer_block`` masks at a time (``host_block``: one copy each), never all at once.
    """

    prompt_index: np.ndarray
    scores: np.ndarray
    query_index: np.ndarray
    all_mask_logits: torch.Tensor

    def __len__(self) -> int:
        return len(self.prompt_index)

    def chunk(self, start: int, stop: int) -> torch.Tensor:
        """Masks ``start:stop`` gathered on the device."""
        device = self.all_mask_logits.device
        prompts = torch.from_numpy(np.ascontiguousarray(self.prompt_index[start:stop])).to(device)
        queries = torch.from_numpy(np.ascontiguousarray(self.query_index[start:stop])).to(device)
        return self.all_mask_logits[prompts, queries]

    def host_block(self, start: int, stop: int) -> HostBlock:
        """Masks ``start:stop`` on the host in one transfer. CPU float32 contiguous logits are read in place
        through numpy (one thread: torch's 2-thread gather was ~50x slower on a busy 2-core host)."""
        stop = min(stop, len(self))
        logits = self.all_mask_logits
        if logits.device.type == "cpu" and logits.dtype == torch.float32 and logits.is_contiguous():
            flat = logits.numpy().reshape(-1, *logits.shape[2:])
            index = self.prompt_index[start:stop] * logits.shape[1] + self.query_index[start:stop]
            return HostBlock(start, stop, flat, index)
        array = self.chunk(start, stop).float().cpu().numpy()
        return HostBlock(start, stop, array, np.arange(stop - start))

    def host_blocks(self, block: int | None = None) -> Iterator[HostBlock]:
        block = block or transfer_block(self)
        for start in range(0, len(self), block):
            yield self.host_block(start, start + block)

    def chunk_into(self, start: int, stop: int, out: np.ndarray) -> int:
        """Gathers masks ``start:stop`` into ``out`` (float32, host), returns how many."""
        return self.host_block(start, stop).take_into(start, stop, out)

    @property
    def mask_logits(self) -> torch.Tensor:
        return self.chunk(0, len(self))


def select_detections(scores: torch.Tensor, mask_logits: torch.Tensor, confidence_threshold: float,
                      score_filter: float) -> Selection:
    """Keep score > confidence_threshold (upstream's processor) and score >= score_filter (the seed's writer).

    The (P, Q) scores come to the host in one copy and are filtered there: no ``nonzero`` on the device."""
    host = scores.float().cpu().numpy()
    prompt_index, query_index = np.nonzero((host > confidence_threshold) & (host >= score_filter))
    return Selection(prompt_index, host[prompt_index, query_index], query_index, mask_logits)


def transfer_chunks(selection: Selection, chunk_size: int) -> Iterator[tuple[HostBlock, int, int]]:
    """(host block, start, stop) of every chunk, blocks of ``transfer_block`` masks rounded to ``chunk_size``."""
    block = max(chunk_size, transfer_block(selection) // chunk_size * chunk_size)
    for host in selection.host_blocks(block):
        for start in range(host.start, host.stop, chunk_size):
            yield host, start, min(start + chunk_size, host.stop)


def records_inline(image_id: int, category_ids: Sequence[int], selection: Selection, height: int, width: int,
                   chunk_size: int = 8) -> list[dict[str, Any]]:
    """The records of one image, computed in the calling thread (the work the pool does, in the same order)."""
    buffer = np.empty((chunk_size, *selection.all_mask_logits.shape[2:]), np.float32)
    done = []
    for host, start, stop in transfer_chunks(selection, chunk_size):
        rows = host.take_into(start, stop, buffer)
        done.append(records_parts(torch.from_numpy(buffer[:rows]), height, width))
    cats = [category_ids[i] for i in selection.prompt_index.tolist()]
    return _join(image_id, cats, selection.scores.tolist(), done)


def default_processes() -> int:
    """Worker processes for ``DevicePostprocessor``: one per CPU core, or 0 (in-process) on a 1-core machine."""
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


class DevicePostprocessor:
    """Low-resolution logits to records on the host, ``chunk_size`` masks per task.

    ``processes`` > 0 (default: one per core, see ``default_processes``): a fork pool of that many processes
    does the per-chunk work (numpy holds the GIL, so threads cannot use a second core). It is created on the
    first ``submit`` and reused for every image; one feeder thread gathers each chunk's logits on the host
    into one of ``in_flight`` slots of anonymous shared memory (chunk_size x 288 x 288 float32, 2.6 MB for 8
    masks) that the forked workers inherit, and sends only the slot number; the full (P, Q, h, w) logits are
    never copied or pickled.
    ``processes=0``: each image is one task (``records_inline``) on ``workers`` threads in this process (one
    overlaps the caller's next image; more mostly contend for the GIL: 2 were ~15% slower on 2 cores).

    ``submit`` returns at once with a future for the records, so the encoding of image i runs while the
    caller computes image i+1. Records are identical, in the same order, in both modes.
    """

    def __init__(self, chunk_size: int = 8, workers: int = 1, processes: int | None = None,
                 in_flight: int | None = None) -> None:
        self.chunk_size = chunk_size
        self.processes = default_processes() if processes is None else max(0, processes)
        self.in_flight = in_flight or 4 * self.processes
        threads = 1 if self.processes else max(1, workers)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rle")
        self._procs: ProcessPoolExecutor | None = None
        self._slots = np.zeros((0, 0, 0, 0), np.float32)

    def submit(self, image_id: int, category_ids: Sequence[int], selection: Selection,
               height: int, width: int) -> Future:
        if self.processes:
            cats = [category_ids[i] for i in selection.prompt_index.tolist()]
            procs, slots = self._process_pool(tuple(selection.all_mask_logits.shape[2:]))
            return self.pool.submit(_records_in_processes, procs, slots, image_id, cats, selection.scores.tolist(),
                                    selection, height, width)
        return self.pool.submit(records_inline, image_id, list(category_ids), selection, height, width,
                                self.chunk_size)

    def _process_pool(self, mask_size: tuple[int, ...]) -> tuple[ProcessPoolExecutor, np.ndarray]:
        """Created (and its processes forked) here, in the caller's thread, before the feeder thread starts,
        with ``in_flight`` shared slots of (chunk_size, h, w) float32 that the workers inherit."""
        if self._procs is not None and self._slots.shape[2:] != mask_size:  # not SAM3 (fixed 288): new slots
            self.pool.submit(int).result()  # the one feeder thread is FIFO: earlier images are done with them
            self._procs.shutdown(wait=True)
            self._procs = None
            atexit.unregister(self.close)
        if self._procs is None:
            opencv_sign.load()  # imported once here, not once per forked worker
            self._slots = shared_slots(self.in_flight, self.chunk_size, mask_size)
            with opencv_sign.one_thread():  # inherited by the workers, which are all forked before it ends
                self._procs = ProcessPoolExecutor(max_workers=self.processes, initializer=_init_worker,
                                                  initargs=(self._slots, os.getpid()), mp_context=multiprocessing.get_context("fork"))
                for warm in [self._procs.submit(os.getpid) for _ in range(self.processes)]:
                    warm.result()
            atexit.register(self.close)
        return self._procs, self._slots

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self._procs is not None:
            self._procs.shutdown(wait=True)
            self._procs = None
            atexit.unregister(self.close)

    def __enter__(self) -> "DevicePostprocessor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def records_parts(mask_logits: torch.Tensor, height: int, width: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(K, h, w) float32 CPU logits -> (boxes (K, 4), RLEs) of ``interpolate(...) > 0`` at ``height`` x ``width``.

    Finite chunks: OpenCV's resize made exact (``opencv_sign``) into pycocotools, boxes from the column-major
    masks. Without OpenCV, smooth chunks take the sparse path and mostly mixed (noisy) ones a dense column-major
    torch interpolation into pycocotools (``dense_positive_by_column``; boxes from the RLEs). Non-finite chunks:
    the torch reference (``resize_masks``)."""
    if mask_logits.shape[0] == 0:
        return np.zeros((0, 4), np.float32), []
    array = mask_logits.numpy()
    magnitude = finite_magnitude(array)
    if magnitude is None:
        masks = resize_masks(mask_logits, height, width)
        return boxes_from_masks(masks).numpy(), encode_rles(masks_to_host_fortran(masks))
    positive = positive_by_column(array, height, width)  # OpenCV's resize, exact near 0; None without OpenCV
    if positive is not None:
        return boxes_by_column(positive), encode_rles(positive.view(np.uint8).transpose(2, 1, 0))
    keys = sparse_change_keys(array, height, width, magnitude)
    if keys is not None:
        return encode_chunk(keys, mask_logits.shape[0], height, width)
    positive = dense_positive_by_column(array, height, width, magnitude)  # (K, W, H) = (H, W, K) Fortran
    return encode_with_boxes(positive.view(np.uint8).transpose(2, 1, 0))


def encode_with_boxes(masks_hwk: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """pycocotools' RLEs of (H, W, K) Fortran uint8 masks and their pixel-extent boxes (from the RLEs)."""
    from pycocotools import mask as mask_util

    rles = mask_util.encode(masks_hwk)
    boxes = mask_util.toBbox(rles).astype(np.float32).reshape(-1, 4)
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return boxes, rles


def shared_slots(count: int, chunk_size: int, mask_size: tuple[int, ...]) -> np.ndarray:
    """(count, chunk_size, *mask_size) float32 in anonymous shared memory: forked workers see the parent's writes."""
    shape = (count, chunk_size, *mask_size)
    nbytes = int(np.prod(shape)) * 4
    return np.frombuffer(mmap.mmap(-1, max(nbytes, 1)), dtype=np.float32, count=nbytes // 4).reshape(shape)


_WORKER_SLOTS: np.ndarray | None = None


def _init_worker(slots: np.ndarray, parent: int) -> None:
    """In each worker process (forked, so ``slots`` is the parent's shared mapping, not a copy): one intra-op
    thread for torch (the pool already uses every core; no oversubscription). OpenCV's one thread is inherited
    (``opencv_sign.one_thread``). The worker dies with its parent."""
    global _WORKER_SLOTS
    _die_with_parent(parent)
    _WORKER_SLOTS = slots
    torch.set_num_threads(1)


def _die_with_parent(parent: int) -> None:
    """A parent killed with SIGKILL (an evaluation stopped hard, to be resumed) cannot shut its pool down, and the
    workers would wait on their queue forever. On Linux the kernel kills them with it (``PR_SET_PDEATHSIG``)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _slot_parts(slot: int, rows: int, height: int, width: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """In a worker process: the chunk the feeder wrote into shared ``slot`` -> (boxes, RLEs)."""
    assert _WORKER_SLOTS is not None
    return records_parts(torch.from_numpy(_WORKER_SLOTS[slot, :rows]), height, width)


def _records_in_processes(procs: ProcessPoolExecutor, slots: np.ndarray, image_id: int, cats: list[int],
                          scores: list[float], selection: Selection, height: int,
                          width: int) -> list[dict[str, Any]]:
    """Feeder thread: chunk k goes to slot k % len(slots) once chunk k - len(slots) is done; results in order."""
    pending: deque[Future] = deque()
    done: list[tuple[np.ndarray, list[dict[str, Any]]]] = []
    for k, (host, start, stop) in enumerate(transfer_chunks(selection, slots.shape[1])):
        if len(pending) >= len(slots):
            done.append(pending.popleft().result())
        rows = host.take_into(start, stop, slots[k % len(slots)])
        pending.append(procs.submit(_slot_parts, k % len(slots), rows, height, width))
    done += [part.result() for part in pending]
    return _join(image_id, cats, scores, done)


def _join(image_id: int, cats: list[int], scores: list[float],
          done: list[tuple[np.ndarray, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    boxes = np.concatenate([b for b, _ in done]) if done else np.zeros((0, 4), np.float32)
    rles = [rle for _, chunk_rles in done for rle in chunk_rles]
    return make_records(image_id, cats, scores, boxes, rles)


def seed_style_records(image_id: int, category_id: int, masks: Any, scores: Any, score_filter: float,
                       height: int | None = None, width: int | None = None) -> list[dict[str, Any]]:
    """The seed's per-mask host loop (cv2 resize if needed, RLE, np.where box), one mask at a time.

    ``masks`` (K, H, W) are booleans as upstream's ``set_text_prompt`` returns them (already at
    image size, so the seed's nearest-neighbour resize to ``height`` x ``width`` rarely runs).
    """
    import cv2
    from pycocotools import mask as mask_util

    if isinstance(masks, torch.Tensor):
        masks = masks.cpu().numpy()
    if isinstance(scores, torch.Tensor):
        scores = scores.float().cpu().numpy()
    records = []
    for i in range(len(scores)):
        score = float(scores[i])
        if score < score_filter:
            continue
        mask = np.squeeze(masks[i]).astype(np.uint8)
        if height is not None and width is not None and mask.shape != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)  # as the seed did
        rle = mask_util.encode(np.asfortranarray(mask))
        rle["counts"] = rle["counts"].decode("ascii")
        ys, xs = np.where(mask > 0)
        box = [0.0, 0.0, 0.0, 0.0] if len(xs) == 0 else [
            float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        records.append({"image_id": int(image_id), "category_id": int(category_id), "bbox": box,
                        "score": score, "segmentation": rle})
    return records


__all__ = [
    "threshold_logits", "resize_masks", "boxes_from_masks", "masks_to_host_fortran", "encode_rles",
    "make_records", "HostBlock", "Selection", "select_detections", "records_inline", "transfer_chunks", "transfer_block", "TRANSFER_MASKS", "TRANSFER_BYTES", "default_processes", "DevicePostprocessor", "records_parts", "seed_style_records",
]
