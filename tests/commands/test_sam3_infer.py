"""tools/sam3_infer.py end to end on the tiny model, CPU: the PNG opens, the JSON is valid and consistent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image
from pycocotools import mask as mask_util

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, str(ROOT / "tools" / "sam3_infer.py"), *argv], capture_output=True,
                          text=True, env=env, timeout=300)


def test_folder_with_text_and_box_prompts(coco_mini, tmp_path):
    _, images = coco_mini
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("chelsea.png", "coffee.png"):
        (folder / name).write_bytes((images / name).read_bytes())
    out = tmp_path / "out"
    proc = run(str(folder), "--prompt", "cat", "--prompt", "cup", "--box", "0.5,0.5,0.4,0.4", "--model", "tiny",
               "--device", "cpu", "--threshold", "0.0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "encode" in proc.stdout and "postprocess" in proc.stdout
    for stem, size in (("chelsea", (451, 300)), ("coffee", (600, 400))):
        with Image.open(out / f"{stem}.overlay.png") as im:
            im.load()
            assert im.size == size
        result = json.loads((out / f"{stem}.json").read_text())
        dets = result["detections"]
        assert {d["prompt"] for d in dets} == {"cat", "cup", "box [0.5, 0.5, 0.4, 0.4]"}
        for d in dets:
            assert mask_util.decode(d["segmentation"]).shape == (size[1], size[0])
            x0, y0, x1, y1 = d["box_xyxy"]
            assert x0 <= x1 and y0 <= y1
            assert 0.0 < d["score"] <= 1.0


def test_bad_box_and_missing_input_are_one_line_errors(tmp_path):
    proc = run(str(tmp_path / "nope.png"), "--prompt", "cat", "--model", "tiny", "--device", "cpu")
    assert proc.returncode == 2 and "neither an image file nor a folder" in proc.stderr
    proc = run(str(tmp_path), "--box", "1,2,3", "--model", "tiny", "--device", "cpu")
    assert proc.returncode == 2 and "cx,cy,w,h" in proc.stderr


def test_capture_graph_on_the_cpu_target_is_a_one_line_error(tmp_path):
    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    proc = run(str(tmp_path / "a.png"), "--prompt", "cat", "--model", "tiny", "--device", "cpu", "--capture", "graph",
               "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "capture mode 'graph' needs a cuda or npu device" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
