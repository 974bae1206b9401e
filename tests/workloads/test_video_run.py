"""npu_compat/workloads/video_run.py: which video model version a run builds (sam3, or SAM 3.1's multiplex
predictor), refused before any build when the importable sam3 lacks it; a tiny 3.1 run end to end on
the 3.1 tree (skips without $SAM3_31_SRC, see tests/conftest.py)."""
from __future__ import annotations

import json

import pytest

from npu_compat.errors import NpuCompatError
from npu_compat.sam3.video_io import synthetic_video, write_video
from npu_compat.workloads.video_run import VideoJob, resolve_version, run_video_job
from tests.conftest import ROOT, run_python

TOOL = ROOT / "tools" / "sam3_video.py"


def test_version_default_and_refusal_on_the_wheel(tmp_path):
    assert resolve_version(None) == "sam3" and resolve_version("sam3") == "sam3"
    with pytest.raises(NpuCompatError, match="sam3.1 needs upstream sam3@96914d2"):
        resolve_version("sam3.1")
    with pytest.raises(NpuCompatError, match="unknown video model version"):
        resolve_version("sam4")
    video = write_video(tmp_path / "v.mp4", synthetic_video(2, 48, 64), fps=4)
    with pytest.raises(NpuCompatError, match="sam3.1"):
        run_video_job(VideoJob(video=str(video), out_dir=str(tmp_path / "out"), text="x", version="sam3.1"))
    assert not (tmp_path / "out").exists(), "refused before anything is built or written"


def test_tool_refuses_sam31_on_the_wheel_in_one_line(tmp_path):
    video = write_video(tmp_path / "v.mp4", synthetic_video(2, 48, 64), fps=4)
    done = run_python(str(TOOL), str(video), "--model", "tiny", "--device", "cpu", "--text", "x",
                      "--version", "sam3.1", "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "sam3@96914d2" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_tool_runs_sam31_by_default_on_the_31_tree(sam31_env, tmp_path):
    frames = 3
    video = write_video(tmp_path / "clip.mp4", synthetic_video(frames, 72, 96), fps=8)
    out = tmp_path / "out"
    done = run_python(str(TOOL), str(video), "--model", "tiny", "--device", "cpu", "--text", "shape",
                      "--out", str(out), env=sam31_env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((out / "frames.json").read_text())
    assert data["version"] == "sam3.1" and len(data["frames"]) == frames
    assert any(f["objects"] for f in data["frames"]), "random weights at threshold 0 still give objects"
