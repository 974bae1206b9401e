"""SAM3's video path under an fp32 autocast policy (what a CPU without native bf16 gets by default).

Upstream casts the SAM2 neck features to bf16 explicitly; with sam3's bf16 regions turned off
that cast meets fp32 conv weights. The run with the neck row passes; the same run with the row
taken out fails with upstream's dtype error, so the row is what carries it.
"""
from __future__ import annotations

import json

import pytest

from npu_compat.sam3.video_io import synthetic_video, write_video
from tests.conftest import ROOT, run_python
from tests.sam3.test_video import HEIGHT, NUM_FRAMES, SCRIPT, WIDTH

DROP_ROW = ("import sys, npu_compat.sam3.autocast_rules as m; m.sam3_autocast_rules = lambda target: []; "
            "from npu_compat.apply import main; sys.exit(main(sys.argv[1:]))")


def _args(tmp_path):
    video = write_video(tmp_path / "clip.mp4", synthetic_video(NUM_FRAMES, HEIGHT, WIDTH), fps=8)
    out, report = tmp_path / "out.json", tmp_path / "report.json"
    return ["--device", "cpu", "--autocast", "fp32", "--report", str(report), "--", str(SCRIPT), str(video), str(out)], report


def test_fp32_policy_sends_the_neck_cast_to_fp32(tmp_path):
    args, report = _args(tmp_path)
    done = run_python("-m", "npu_compat.apply", *args, timeout=900)
    assert done.returncode == 0 and "VIDEO_SCRIPT_DONE" in done.stdout, done.stderr[-4000:]
    data = json.loads(report.read_text())
    sites = [c for c in data["calls"] if c["rule"] == "sam3.autocast.neck_dtype"]
    assert sites and sites[0]["old"] == "bfloat16 neck features" and sites[0]["new"] == "float32"
    assert all(c["new"].startswith("cpu/fp32") for c in data["calls"] if c["rule"] == "amp.autocast")


@pytest.mark.slow  # a second tiny video run (about a minute); the proof that the row is needed
def test_without_the_row_the_fp32_run_fails_with_upstreams_dtype_error(tmp_path):
    args, _ = _args(tmp_path)
    done = run_python("-c", DROP_ROW, *args, timeout=900, cwd=ROOT)
    assert done.returncode != 0 and "VIDEO_SCRIPT_DONE" not in done.stdout
    assert "BFloat16" in done.stderr and "float" in done.stderr, done.stderr[-2000:]
