"""Tests for npu_compat.workloads.stage_timer."""
from __future__ import annotations

import time

from npu_compat.workloads.stage_timer import StageTimer, summarize


def test_warmup_images_are_left_out_and_device_is_synchronised():
    calls = []
    timer = StageTimer(synchronize=lambda: calls.append(1), warmup=2)
    for i in range(5):
        with timer.stage("encode"):
            time.sleep(0.001 * (i + 1))
        timer.end_image()
    assert len(timer.samples["encode"]) == 3
    assert min(timer.samples["encode"]) >= 0.003
    assert len(calls) == 10


def test_summary_percentiles():
    s = summarize({"x": [0.001 * v for v in range(1, 11)]})["x"]
    assert s["count"] == 10
    assert abs(s["mean_ms"] - 5.5) < 1e-9
    assert abs(s["p50_ms"] - 5.5) < 1e-9
    assert abs(s["p90_ms"] - 9.1) < 1e-9
