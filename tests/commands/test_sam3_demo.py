"""The README's main job, as the README writes it (with ``--model tiny`` so it takes seconds): a line per
stage, an overlay with detections drawn and the RANDOM WEIGHTS mark, result.json and the migration report."""
from __future__ import annotations

import json
import re
import shlex
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, run_python


def readme_demo_command() -> list[str]:
    """The quickstart's last command (after the install), as argv for this Python."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", text, re.S).group(1)
    command = block.strip().split("&&")[-1].strip()
    argv = shlex.split(command)
    assert argv[0] == ".venv/bin/python" and "npu_compat.apply" in argv and "tools/sam3_demo.py" in argv, command
    return [str(ROOT / a) if a.startswith("tools/") else a for a in argv[1:]]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("readme")
    done = run_python(*readme_demo_command(), "--model", "tiny", cwd=cwd, timeout=600)
    return cwd, done


def test_readme_command_prints_a_line_per_stage(demo_run):
    _, done = demo_run
    assert done.returncode == 0, done.stderr[-3000:]
    for stage in ("build", "set_image", "text prompt", "box prompt", "write"):
        assert re.search(rf"\[\d/5\] {stage} done in \d+\.\d s", done.stdout), (stage, done.stdout)
    assert "FutureWarning" not in done.stderr, "upstream's torch.jit.script warning is silenced"


def test_overlay_shows_detections_and_the_random_weights_mark(demo_run):
    from skimage import data

    from npu_compat.workloads.checkpoints import PARTIAL_FLAG  # noqa: F401  (the demo's imports resolve)

    cwd, _ = demo_run
    from npu_compat.commands.sam3_demo import RANDOM_MARK, banner_height

    photo = data.astronaut()
    with Image.open(cwd / "out" / "overlay.png") as im:
        overlay = np.asarray(im.convert("RGB"))
    assert overlay.shape == photo.shape
    band = banner_height(photo.shape[0])
    banner = overlay[:band]
    assert (banner[..., 0].astype(int) > 150).mean() > 0.5, "the red RANDOM WEIGHTS banner is drawn"
    assert (banner.min(axis=-1) > 200).sum() > 100, "white text is written on the banner"
    below = np.abs(overlay[band:].astype(int) - photo[band:].astype(int)).sum(axis=-1) > 0
    assert below.mean() > 0.01, "masks and boxes are drawn below the banner"

    result = json.loads((cwd / "out" / "result.json").read_text())
    assert result["random_weights"] is True and result["drawn"] == "top_k"
    assert len(result["text"]["scores"]) == result["top_k"] == 3
    assert len(result["box"]["scores"]) == 3
    assert set(result["seconds"]) >= {"build", "set_image", "text_prompt", "box_prompt"}
    assert RANDOM_MARK == "RANDOM WEIGHTS"
    report = json.loads((cwd / "out" / "migration-report.json").read_text())
    assert report, "the shim's migration report is written"


def test_real_weights_draw_only_detections_above_threshold(tmp_path, shim_cpu):
    """With a checkpoint the threshold rules: a threshold of 1 leaves the photo unmarked and no banner."""
    import torch

    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    ckpt = tmp_path / "tiny.pt"
    torch.save(build_tiny_sam3_image_model(seed=0).state_dict(), ckpt)
    image = tmp_path / "photo.png"
    Image.fromarray(np.full((96, 128, 3), 90, np.uint8)).save(image)
    done = run_python(str(ROOT / "tools" / "sam3_demo.py"), "--model", "tiny", "--device", "cpu", "--checkpoint",
                      str(ckpt), "--image", str(image), "--threshold", "1", "--out", str(tmp_path / "out"), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["random_weights"] is False and result["text"]["scores"] == [] and result["box"]["scores"] == []
    with Image.open(tmp_path / "out" / "overlay.png") as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(Image.open(image).convert("RGB")))


@pytest.mark.slow
def test_readme_command_verbatim_on_the_full_model(tmp_path):
    """The README's command exactly as written (full-size SAM3, random weights): minutes, ~5 GB."""
    import subprocess

    from tests.conftest import ROOT as root

    argv = ["flock", "/tmp/fullsize.lock", sys.executable, *readme_demo_command()]
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RANDOM WEIGHTS" in done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["model"] == "sam3" and result["random_weights"] and len(result["text"]["scores"]) == 3
    with Image.open(tmp_path / "out" / "overlay.png") as im:
        assert im.size == (512, 512)
