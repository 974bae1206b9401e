"""tools/coco_eval.py end to end on the tiny model, CPU, coco_mini: kill + resume, torchrun, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = str(ROOT / "tools" / "coco_eval.py")


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    e.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return e


def args(ann: Path, images: Path, out: Path, *extra: str) -> list[str]:
    return [TOOL, "--coco-ann", str(ann), "--coco-img", str(images), "--output-json", str(out), "--model", "tiny",
            "--device", "cpu", "--warmup", "0", "--no-progress", "--prompt-batch", "3", *extra]


def run(*argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env(), timeout=timeout)


@pytest.fixture(scope="module")
def reference(coco_mini, tmp_path_factory):
    ann, images = coco_mini
    out = tmp_path_factory.mktemp("ref") / "preds.json"
    proc = run(*args(ann, images, out, "--eval"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout, out


def test_uninterrupted_run_writes_predictions_timings_and_metrics(reference):
    records, stdout, out = reference
    assert {r["image_id"] for r in records} == {1, 2, 3, 4}
    assert "4/4 images done, 0 skipped" in stdout
    metrics = json.loads(out.with_name("preds.metrics.json").read_text())
    assert set(metrics) == {"segm", "bbox"} and len(metrics["bbox"]) == 12
    timings = json.loads(out.with_name("preds.timings.json").read_text())
    assert {"encode", "prompts", "postprocess", "end_to_end"} <= set(timings)


def test_sigkill_then_resume_equals_uninterrupted(coco_mini, reference, tmp_path):
    ann, images = coco_mini
    out = tmp_path / "preds.json"
    log = Path(f"{out}.parts") / "rank-0.jsonl"
    proc = subprocess.Popen([sys.executable, *args(ann, images, out)], env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (log.exists() and log.read_bytes().count(b"\n") >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = log.read_bytes().count(b"\n")
    assert 1 <= done_before < 4, "the kill must land mid-run"
    assert not out.exists()
    resumed = run(*args(ann, images, out, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(x["image_id"] for x in lines) == [1, 2, 3, 4], "duplicates or losses in the log"
    assert json.loads(out.read_text()) == reference[0]


def test_torchrun_two_ranks_equal_one_process(coco_mini, reference, tmp_path):
    ann, images = coco_mini
    out = tmp_path / "preds.json"
    proc = run("-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531",
               *args(ann, images, out), timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = sorted(p.name for p in Path(f"{out}.parts").glob("rank-*.jsonl"))
    assert parts == ["rank-0.jsonl", "rank-1.jsonl"]
    assert json.loads(out.read_text()) == reference[0]


def test_missing_and_corrupt_images_are_skipped_and_counted(coco_mini, tmp_path):
    ann, images = coco_mini
    data = json.loads(ann.read_text())
    data["images"] = data["images"][:1] + [
        {"id": 50, "file_name": "gone.png", "height": 10, "width": 10},
        {"id": 51, "file_name": "broken.png", "height": 10, "width": 10}]
    kept = {image["id"] for image in data["images"]}  # annotations of dropped images would be refused
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "astronaut.png").write_bytes((images / "astronaut.png").read_bytes())
    (tmp_path / "ann.json").write_text(json.dumps(data))
    proc = run(*args(tmp_path / "ann.json", tmp_path, tmp_path / "p.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1/3 images done, 2 skipped" in proc.stdout
    assert "skipped image 50 (gone.png)" in proc.stderr


def test_non_coco_annotation_file_is_a_one_line_error(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    proc = run(*args(tmp_path / "x.json", tmp_path, tmp_path / "p.json"))
    assert proc.returncode == 2
    assert "is not a COCO instances file" in proc.stderr
    assert "Traceback" not in proc.stderr
