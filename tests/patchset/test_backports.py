"""The backport series for sam3==0.1.4 users (upstream fixes after the wheel, not device changes):
upstream's video normalisation (commit 1daff5e), shown on the 0.1.4 tracker's own frame loader."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from npu_compat.patchset.engine import apply_series
from npu_compat.patchset.series import header_problems, load_series
from tests.patchset.conftest import REPO, SERIES

BACKPORTS = REPO / "patches" / "backports-sam3-0.1.4" / "series"

# Sam3TrackerPredictor.init_state loads frames with load_video_frames' default mean/std; run that
# loader (on cpu) on frames whose pixel values are known, and read the normalised values back.
PROBE = r"""
import inspect, json, sys
import numpy as np
from PIL import Image
sys.path.insert(0, sys.argv[1])
import torch
from sam3.model.sam3_tracking_predictor import Sam3TrackerPredictor
from sam3.model.utils import sam2_utils
assert sam2_utils.__file__.startswith(sys.argv[1])
init = inspect.getsource(Sam3TrackerPredictor.init_state)
assert "load_video_frames(" in init and "img_mean" not in init  # the tracker takes the defaults
folder = sys.argv[2]
value = 200  # every pixel, every channel
for i in range(2):
    Image.fromarray(np.full((32, 48, 3), value, np.uint8)).save(f"{folder}/{i:05d}.jpg", quality=100)
images, h, w = sam2_utils.load_video_frames(video_path=folder, image_size=16, offload_video_to_cpu=True,
                                            compute_device=torch.device("cpu"))
print(json.dumps({"channels": images[0].mean(dim=(1, 2)).tolist(), "size": [h, w]}))
"""


def _normalised(tree: Path, tmp_path: Path) -> list[float]:
    frames = tmp_path / f"frames-{tree.name}"
    frames.mkdir()
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tree), str(frames)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["size"] == [32, 48]
    return data["channels"]


def test_backport_headers_name_the_upstream_commit():
    [patch] = load_series(BACKPORTS)
    assert header_problems(patch.header) == []
    assert patch.header["Upstream-Status"] == "Backport 1daff5e"
    device_files = {c.path for p in load_series(SERIES) for c in p.files}
    assert not device_files & {c.path for c in patch.files}, "kept apart from the device series"


def test_tracker_input_normalisation_before_and_after(sam3_014, tmp_path):
    backports = load_series(BACKPORTS)
    report, patched = apply_series(sam3_014, backports)
    assert report.applied and [p.status for p in report.patches] == ["exact"]
    try:
        before = _normalised(sam3_014, tmp_path)
        after = _normalised(patched, tmp_path)
    finally:
        shutil.rmtree(patched.parent)
    x = 200 / 255
    imagenet = [(x - m) / s for m, s in zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]
    assert before == pytest.approx(imagenet, abs=2e-2)  # 0.1.4: ImageNet mean/std (jpg rounding aside)
    assert after == pytest.approx([(x - 0.5) / 0.5] * 3, abs=2e-2)  # backport: 0.5/0.5, as sam3 main
    assert max(abs(a - b) for a, b in zip(before, after)) > 0.2


def test_backport_applies_on_top_of_the_device_series(sam3_014, series_patches):
    report, tree = apply_series(sam3_014, series_patches + load_series(BACKPORTS))
    try:
        assert report.applied and report.strict_ok()
    finally:
        shutil.rmtree(tree.parent)
