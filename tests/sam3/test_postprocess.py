"""Tests for npu_compat.sam3.postprocess: the vectorised path against the seed-style per-mask path."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_util

from npu_compat.sam3.postprocess import (DevicePostprocessor, boxes_from_masks, resize_masks, seed_style_records,
                                         select_detections, threshold_logits)


@pytest.fixture(params=["opencv", "no opencv"])
def opencv(request, monkeypatch):
    """Both host paths: OpenCV's resize made exact (the default), and without OpenCV the sparse path and torch."""
    from npu_compat.sam3 import opencv_sign

    if request.param == "no opencv":
        monkeypatch.setattr(opencv_sign, "_opencv", lambda: None)
    return request.param


def smooth_logits(prompts: int, queries: int, size: int = 72, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(prompts * queries, 1, 6, 6, generator=g) * 3
    return F.interpolate(coarse, (size, size), mode="bilinear").view(prompts, queries, size, size)


def test_threshold_matches_upstream_sigmoid_away_from_rounding():
    x = torch.linspace(-3, 3, 100_001)
    far = x.abs() > 1e-6
    assert torch.equal(threshold_logits(x)[far], (x.sigmoid() > 0.5)[far])


def test_boxes_are_pixel_extents_and_empty_masks_get_zeros():
    masks = torch.zeros(3, 20, 30, dtype=torch.bool)
    masks[0, 2:5, 7:19] = True
    masks[2, 19, 0] = True
    boxes = boxes_from_masks(masks).tolist()
    assert boxes == [[7.0, 2.0, 12.0, 3.0], [0.0, 0.0, 0.0, 0.0], [0.0, 19.0, 1.0, 1.0]]


def test_device_path_equals_seed_per_mask_path():
    prompts, queries, height, width = 5, 7, 61, 83
    logits = smooth_logits(prompts, queries)
    scores = torch.rand(prompts, queries, generator=torch.Generator().manual_seed(1))
    cat_ids = [3, 1, 44, 7, 90]
    seed_records = []
    for p in range(prompts):
        keep = scores[p] > 0.2
        masks = resize_masks(logits[p][keep], height, width)  # what set_text_prompt hands the seed loop
        seed_records += seed_style_records(12, cat_ids[p], masks, scores[p][keep], 0.3)
    with DevicePostprocessor(chunk_size=4, workers=2) as post:
        selection = select_detections(scores, logits, 0.2, 0.3)
        ours = post.submit(12, cat_ids, selection, height, width).result()
    assert len(ours) == len(seed_records) > 5
    assert ours == seed_records
    decoded = mask_util.decode(ours[0]["segmentation"])
    assert decoded.shape == (height, width)
    assert decoded.sum() == mask_util.area(ours[0]["segmentation"])


def test_seed_loop_resizes_low_resolution_masks_like_the_seed():
    mask = np.zeros((1, 10, 10), dtype=bool)
    mask[0, 2:4, 2:4] = True
    rec = seed_style_records(1, 1, mask, np.array([0.9]), 0.0, height=20, width=20)[0]
    assert rec["segmentation"]["size"] == [20, 20]
    assert rec["bbox"] == [4.0, 4.0, 4.0, 4.0]


def test_nothing_selected_gives_no_records():
    with DevicePostprocessor() as post:
        selection = select_detections(torch.zeros(2, 3), smooth_logits(2, 3), 0.5, 0.01)
        assert post.submit(1, [1, 2], selection, 10, 10).result() == []


def edge_case_logits(size: int = 40) -> torch.Tensor:
    """Empty, all-positive, one positive logit (a few-pixel object), exact zeros, smooth and noisy masks."""
    g = torch.Generator().manual_seed(11)
    logits = smooth_logits(1, 8, size=size, seed=3)[0]
    logits[0] = -3.0
    logits[1] = 3.0
    logits[2] = -1.0
    logits[2, size // 2, size // 3] = 0.2
    logits[3] = torch.randint(-1, 2, (size, size), generator=g).float()
    logits[4] += torch.randn(size, size, generator=g)
    return logits.contiguous()


def seed_loop_on_exact_masks(logits: torch.Tensor, scores: torch.Tensor, cat_ids: list[int], height: int,
                             width: int) -> list[dict]:
    records = []
    for p in range(logits.shape[0]):
        masks = resize_masks(logits[p], height, width)  # interpolate > 0, dense, as the baseline does
        records += seed_style_records(4, cat_ids[p], masks, scores[p], 0.0)
    return records


@pytest.mark.parametrize("height,width", [(61, 83), (83, 61), (97, 131), (40, 40), (3, 7)])
def test_fast_path_equals_seed_loop_on_edge_cases(height, width, opencv):
    logits = torch.stack([edge_case_logits(), edge_case_logits().flip(1)])
    scores = torch.full((2, 8), 0.9)
    with DevicePostprocessor(chunk_size=3, workers=2) as post:
        ours = post.submit(4, [5, 6], select_detections(scores, logits, 0.0, 0.0), height, width).result()
    assert ours == seed_loop_on_exact_masks(logits, scores, [5, 6], height, width)
    assert ours[0]["bbox"] == [0.0, 0.0, 0.0, 0.0]
    assert ours[1]["bbox"] == [0.0, 0.0, float(width), float(height)]


def test_fast_path_equals_seed_loop_at_sam3_mask_size(opencv):
    logits = smooth_logits(2, 3, size=288, seed=9)
    logits[1] += torch.randn(3, 288, 288, generator=torch.Generator().manual_seed(2)) * 0.5  # ragged contours
    scores = torch.full((2, 3), 0.5)
    for height, width in ((480, 640), (640, 480)):
        with DevicePostprocessor() as post:
            ours = post.submit(4, [1, 2], select_detections(scores, logits, 0.0, 0.0), height, width).result()
        assert ours == seed_loop_on_exact_masks(logits, scores, [1, 2], height, width)


def test_noisy_and_non_finite_chunks_take_the_dense_reference_and_agree(opencv):
    logits = smooth_logits(1, 4, size=50, seed=8)
    logits[0, :2] += torch.randn(2, 50, 50, generator=torch.Generator().manual_seed(3)) * 4  # mostly mixed cells
    logits[0, 3, 10, 10] = float("nan")
    scores = torch.full((1, 4), 0.9)
    with DevicePostprocessor(chunk_size=2) as post:
        ours = post.submit(4, [9], select_detections(scores, logits, 0.0, 0.0), 77, 91).result()
    assert ours == seed_loop_on_exact_masks(logits, scores, [9], 77, 91)


def test_process_mode_equals_in_process_mode_across_images_and_mask_sizes(opencv):
    """Same records (RLE strings, boxes, order) from the forked worker pool as in-process; the pool (and its
    shared slots) is reused across images and rebuilt when the low-res mask size changes."""
    scores = torch.rand(3, 5, generator=torch.Generator().manual_seed(4))
    images = [(smooth_logits(3, 5, size=48, seed=s), 61, 83) for s in (5, 6)]
    images.append((smooth_logits(3, 5, size=40, seed=7) + torch.randn(3, 5, 40, 40) * 2, 90, 70))  # noisy: dense
    with DevicePostprocessor(chunk_size=3, processes=0) as local, \
            DevicePostprocessor(chunk_size=3, processes=2, in_flight=2) as forked:
        for image_id, (logits, height, width) in enumerate(images):
            selection = select_detections(scores, logits, 0.1, 0.1)
            expected = local.submit(image_id, [7, 8, 9], selection, height, width).result()
            ours = forked.submit(image_id, [7, 8, 9], selection, height, width).result()
            assert len(ours) > 6
            assert [r["segmentation"] for r in ours] == [r["segmentation"] for r in expected]
            assert ours == expected
        assert forked._procs is not None and local._procs is None


def test_non_contiguous_and_half_logits_gather_like_the_chunk():
    logits = smooth_logits(4, 6, size=20).transpose(0, 1)  # (6, 4, ...) non-contiguous
    selection = select_detections(torch.full((6, 4), 0.5), logits, 0.0, 0.0)
    for source in (selection, select_detections(torch.full((6, 4), 0.5), logits.contiguous(), 0.0, 0.0),
                   select_detections(torch.full((6, 4), 0.5), logits.half(), 0.0, 0.0)):
        out = np.full((5, 20, 20), np.nan, np.float32)
        assert source.chunk_into(20, 25, out) == 4
        assert np.array_equal(out[:4], source.chunk(20, 25).float().numpy())


def test_default_processes_is_one_per_core_and_none_on_one_core(monkeypatch):
    from npu_compat.sam3 import postprocess

    monkeypatch.setattr(postprocess.os, "cpu_count", lambda: 1)
    assert postprocess.default_processes() == 0
    assert DevicePostprocessor().processes == 0
    monkeypatch.setattr(postprocess.os, "cpu_count", lambda: 2)
    assert postprocess.default_processes() == 2


def test_records_inline_equals_the_pool_and_masks_move_in_blocks(monkeypatch):
    from npu_compat.bench.op_counter import DispatchCounter
    from npu_compat.sam3 import postprocess
    from npu_compat.sam3.postprocess import records_inline

    logits = smooth_logits(3, 7, size=40, seed=12).transpose(0, 1).contiguous().transpose(0, 1)  # not contiguous
    scores = torch.rand(3, 7, generator=torch.Generator().manual_seed(5))
    selection = select_detections(scores, logits, 0.1, 0.1)
    with DevicePostprocessor(chunk_size=2, processes=0) as post:
        expected = post.submit(3, [4, 5, 6], selection, 50, 60).result()
    monkeypatch.setattr(postprocess, "TRANSFER_MASKS", 4)
    with DispatchCounter(host_reads=True) as counter:
        ours = records_inline(3, [4, 5, 6], selection, 50, 60, chunk_size=2)
    assert ours == expected and len(ours) > 8
    transfers = sum(n for site, n in counter.counts.sites.items() if site.endswith("Tensor.cpu"))
    assert transfers == -(-len(ours) // 4)  # one device-to-host copy per block of 4 masks


@pytest.mark.parametrize("height,width", [(61, 83), (97, 131), (3, 7)])
def test_dense_column_major_path_equals_seed_loop_on_edge_cases(monkeypatch, height, width):
    """Without OpenCV, every chunk forced onto the dense path (torch's interpolation of the transposed logits,
    rounding-close pixels recomputed exactly, boxes from pycocotools): the same records as the seed loop."""
    from npu_compat.sam3 import mask_changes, opencv_sign

    monkeypatch.setattr(opencv_sign, "_opencv", lambda: None)
    monkeypatch.setattr(mask_changes, "DENSE_FRACTION", -1.0)
    logits = torch.stack([edge_case_logits(), edge_case_logits().flip(1)])
    scores = torch.full((2, 8), 0.9)
    with DevicePostprocessor(chunk_size=3, processes=0) as post:
        ours = post.submit(4, [5, 6], select_detections(scores, logits, 0.0, 0.0), height, width).result()
    assert ours == seed_loop_on_exact_masks(logits, scores, [5, 6], height, width)


def test_finite_chunks_take_the_opencv_path_and_others_do_not(monkeypatch):
    from npu_compat.sam3 import postprocess

    calls = []
    real = postprocess.positive_by_column
    monkeypatch.setattr(postprocess, "positive_by_column", lambda *a: calls.append(a) or real(*a))
    logits = smooth_logits(1, 3, size=30)[0]
    expected = postprocess.records_parts(logits, 40, 50)
    assert len(calls) == 1
    logits[1, 2, 2] = float("nan")
    postprocess.records_parts(logits, 40, 50)
    assert len(calls) == 1  # non-finite: torch's reference, not OpenCV
    monkeypatch.setattr(postprocess.opencv_sign, "_opencv", lambda: None)
    boxes, rles = postprocess.records_parts(logits[[0, 2]], 40, 50)
    assert rles == [expected[1][0], expected[1][2]] and np.array_equal(boxes, expected[0][[0, 2]])


FORK_AFTER_OPENCV_THREADS = """
import time
import cv2, numpy as np, torch
from npu_compat.sam3.postprocess import DevicePostprocessor, select_detections
cv2.setNumThreads(2)
image = np.random.default_rng(0).random((1500, 1500), dtype=np.float32)
logits = torch.randn(1, 4, 30, 30)
for _ in range(4):  # the parent's OpenCV pool threads are idle, waiting, when the workers are forked
    cv2.resize(image, (2000, 2000))
    time.sleep(0.2)
    with DevicePostprocessor(processes=2) as post:
        post.submit(0, [1], select_detections(torch.ones(1, 4), logits, 0.0, 0.0), 40, 50).result()
assert cv2.getNumThreads() == 2
print("done")
"""


def test_workers_fork_cleanly_after_the_parent_used_opencv_threads():
    """Workers forked from a parent whose OpenCV thread pool is running finish (setting OpenCV's threads in a
    forked child can wait forever on the parent's pool threads) and the parent keeps its thread count."""
    import os
    import subprocess
    import sys

    pytest.importorskip("cv2")
    done = subprocess.run([sys.executable, "-c", FORK_AFTER_OPENCV_THREADS], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-2000:]


def test_transfer_blocks_are_sized_by_bytes(monkeypatch):
    from npu_compat.sam3 import postprocess
    from npu_compat.sam3.postprocess import transfer_block, transfer_chunks

    logits = torch.zeros(2, 5, 10, 20)
    selection = select_detections(torch.ones(2, 5), logits, 0.0, 0.0)
    monkeypatch.setattr(postprocess, "TRANSFER_BYTES", 3 * 10 * 20 * 4)  # three masks of float32 per copy
    assert transfer_block(selection) == 3
    blocks = {(host.start, host.stop) for host, _, _ in transfer_chunks(selection, 1)}
    assert blocks == {(0, 3), (3, 6), (6, 9), (9, 10)}
    monkeypatch.setattr(postprocess, "TRANSFER_MASKS", 4)
    assert transfer_block(selection) == 4


POOL_THEN_WAIT = """
import os, sys, time, torch
from npu_compat.sam3.postprocess import DevicePostprocessor, select_detections
post = DevicePostprocessor(processes=2)
logits = torch.randn(1, 4, 30, 30)
post.submit(0, [1], select_detections(torch.ones(1, 4), logits, 0.0, 0.0), 40, 50).result()
print(" ".join(str(p) for p in post._procs._processes), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")
def test_workers_die_when_their_parent_is_killed():
    """A SIGKILLed evaluation (the resume case) leaves no postprocess workers behind, waiting forever."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([sys.executable, "-c", POOL_THEN_WAIT], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), workers
