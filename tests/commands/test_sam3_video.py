"""tools/sam3_video.py end to end on cpu with the tiny model: overlay mp4 with one frame per input
frame, and frames.json with the documented per-frame structure (RLE masks decode to the boxes' frame size)."""
from __future__ import annotations

import json

import cv2
from pycocotools import mask as mask_utils

from npu_compat.sam3.video_io import read_video, synthetic_video, write_video
from tests.conftest import ROOT, run_python

TOOL = ROOT / "tools" / "sam3_video.py"


def test_help_explains():
    done = run_python(str(TOOL), "--help")
    assert done.returncode == 0 and "--point" in done.stdout and "RANDOM" in done.stdout and "--device" in done.stdout


def test_bad_point_is_a_one_line_error(tmp_path):
    video = write_video(tmp_path / "v.mp4", synthetic_video(2, 48, 64), fps=4)
    done = run_python(str(TOOL), str(video), "--model", "tiny", "--device", "cpu", "--text", "x", "--point", "nonsense")
    assert done.returncode == 2 and "FRAME:X,Y" in done.stderr and "Traceback" not in done.stderr


def test_end_to_end_on_cpu(tmp_path):
    frames, height, width = 8, 72, 96
    video = write_video(tmp_path / "clip.mp4", synthetic_video(frames, height, width), fps=8)
    out = tmp_path / "out"
    done = run_python(str(TOOL), str(video), "--model", "tiny", "--device", "cpu", "--text", "shape",
                      "--point", "3:48,30", "--out", str(out), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RANDOM WEIGHTS" in done.stderr
    cap = cv2.VideoCapture(str(out / "overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    cap.release()
    overlay = read_video(out / "overlay.mp4", "cv2")
    assert overlay.num_frames == frames and (overlay.height, overlay.width) == (height, width)
    data = json.loads((out / "frames.json").read_text())
    assert data["num_frames"] == frames and (data["height"], data["width"]) == (height, width)
    assert [f["frame_index"] for f in data["frames"]] == list(range(frames))
    assert set(data["timings_s"]) == {"load", "prompt", "propagate", "write"}
    assert data["prompts"]["points"][0]["frame"] == 3
    total = 0
    for frame in data["frames"]:
        for obj in frame["objects"]:
            assert set(obj) == {"obj_id", "score", "box_xywh", "area", "mask_rle"}
            mask = mask_utils.decode({"size": obj["mask_rle"]["size"], "counts": obj["mask_rle"]["counts"].encode()})
            assert mask.shape == (height, width) and int(mask.sum()) == obj["area"] >= 0
            assert len(obj["box_xywh"]) == 4 and 0.0 <= obj["score"] <= 1.0
            total += 1
    assert total > 0, "the tiny model (detection threshold 0) yields objects"


def test_outputs_get_the_users_usual_permissions(tmp_path):
    import os

    video = write_video(tmp_path / "v.mp4", synthetic_video(2, 48, 64), fps=4)
    out = tmp_path / "out"
    done = run_python(str(TOOL), str(video), "--model", "tiny", "--device", "cpu", "--text", "x", "--out", str(out),
                      timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    umask = os.umask(0)
    os.umask(umask)
    for name in ("frames.json", "overlay.mp4"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
