"""Bad input across the kit's command lines: each case exits 2 with one line on stderr naming the
fix, no traceback, and leaves every file as it was (no output written, nothing damaged).

The tools run in this process (their ``main(argv)``) so each case takes well under a second:
inputs are checked before any model is built. A few cases run as real subprocesses too, to see
the process's exit status and stderr exactly as a user does.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Callable

import pytest
import torch

from tests.conftest import ROOT, run_python

TOOLS = ROOT / "tools"


def _tool(name: str):
    return importlib.import_module(f"npu_compat.commands.{name}").main


def _env_main(argv):
    from npu_compat.env.__main__ import main

    return main(argv)


def _parity_main(argv):
    from npu_compat.parity.__main__ import main

    return main(argv)


MAINS: dict[str, Callable] = {}


def main_of(tool: str) -> Callable:
    if tool not in MAINS:
        MAINS[tool] = {"env": lambda: _env_main, "parity": lambda: _parity_main}.get(tool, lambda: _tool(tool))()
    return MAINS[tool]


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb: PIL refuses it before decoding)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, Path]:
    """Inputs good and bad, in one folder that every case also checks is left unchanged."""
    from PIL import Image

    from npu_compat.sam3.video_io import synthetic_video, write_video

    d = tmp_path_factory.mktemp("bad_input")
    Image.new("RGB", (64, 48), (120, 30, 200)).save(d / "good.png")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    (d / "notes.txt").write_text("not an image\n")
    (d / "bomb.png").write_bytes(_png_header(40000, 40000))
    (d / "afile").write_text("a plain file\n")
    (d / "text.pt").write_text("model weights, honest\n")
    torch.save({"w": torch.zeros(64, 64)}, d / "whole.pt")
    (d / "truncated.pt").write_bytes((d / "whole.pt").read_bytes()[:300])
    torch.save({"model": {"detector.nonsense.weight": torch.zeros(2)}}, d / "wrongkeys.pt")
    (d / "empty_folder").mkdir()
    write_video(d / "clip.mp4", synthetic_video(4, 48, 64), fps=4)
    (d / "fake.mp4").write_text("not a video\n")
    ann = json.loads((ROOT / "tests" / "data" / "coco_mini" / "instances.json").read_text())
    (d / "ann.json").write_text(json.dumps(ann))
    (d / "ann_no_images.json").write_text(json.dumps({**ann, "images": [], "annotations": []}))
    (d / "ann_no_categories.json").write_text(json.dumps({**ann, "categories": [], "annotations": []}))
    (d / "outside.series").write_text("../../etc/hostname\n")
    (d / "images").mkdir()
    Image.new("RGB", (64, 48)).save(d / "images" / "astronaut.png")
    (d / "empty.mp4").write_bytes(b"")
    (d / "ann_dup_images.json").write_text(json.dumps({**ann, "images": ann["images"] + ann["images"][:1]}))
    (d / "ann_dup_categories.json").write_text(json.dumps({**ann, "categories": ann["categories"] + ann["categories"][:1]}))
    (d / "ann_orphan.json").write_text(json.dumps({**ann, "annotations": [{**ann["annotations"][0], "image_id": 999999}]}))
    first = ann["images"][0]["id"]
    (d / "nan_preds.json").write_text(json.dumps([{"image_id": first, "category_id": ann["categories"][0]["id"],
                                                   "bbox": [0, 0, 1, 1], "score": float("nan")}]))
    (d / "list.json").write_text(json.dumps([1, 2]))
    (d / "binary.bin").write_bytes(bytes(range(256)))
    (d / "metrics.json").write_text(json.dumps({"loss": 1.0}))
    return {p.name: p for p in d.iterdir()} | {"dir": d}


def snapshot(*folders: Path) -> dict[str, str]:
    out = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


# (case id, tool, argv(fx, out) -> list, words the line must hold)
F = Callable[[dict, Path], list]
CASES: list[tuple[str, str, F, str]] = [
    # sam3_infer
    ("infer-corrupt-image", "sam3_infer", lambda f, o: [f["corrupt.png"], "--prompt", "cat", "--out", o], "cannot be decoded"),
    ("infer-text-as-image", "sam3_infer", lambda f, o: [f["notes.txt"], "--prompt", "cat", "--out", o], "cannot be decoded"),
    ("infer-decompression-bomb", "sam3_infer", lambda f, o: [f["bomb.png"], "--prompt", "cat", "--out", o], "too large"),
    ("infer-missing-image", "sam3_infer", lambda f, o: [f["dir"] / "nope.png", "--prompt", "cat", "--out", o], "neither"),
    ("infer-empty-folder", "sam3_infer", lambda f, o: [f["empty_folder"], "--prompt", "cat", "--out", o], "no images"),
    ("infer-box-three-numbers", "sam3_infer", lambda f, o: [f["good.png"], "--box", "1,2,3", "--out", o], "cx,cy,w,h"),
    ("infer-box-pixels", "sam3_infer", lambda f, o: [f["good.png"], "--box", "10,20,60,40", "--out", o], "[0,1]"),
    ("infer-box-outside", "sam3_infer", lambda f, o: [f["good.png"], "--box", "0.9,0.5,0.4,0.4", "--out", o], "outside"),
    ("infer-box-zero-size", "sam3_infer", lambda f, o: [f["good.png"], "--box", "0.5,0.5,0,0.2", "--out", o], "> 0"),
    ("infer-box-words", "sam3_infer", lambda f, o: [f["good.png"], "--box", "a,b,c,d", "--out", o], "cx,cy,w,h"),
    ("infer-threshold-2", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--threshold", "2", "--out", o], "[0, 1]"),
    ("infer-threshold-nan", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--threshold", "nan", "--out", o], "[0, 1]"),
    ("infer-empty-prompt", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "", "--out", o], "empty text prompt"),
    ("infer-blank-prompt", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "   ", "--out", o], "empty text prompt"),
    ("infer-nothing-to-segment", "sam3_infer", lambda f, o: [f["good.png"], "--out", o], "nothing to segment"),
    ("infer-prompt-batch-0", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--prompt-batch", "0", "--out", o], ">= 1"),
    ("infer-unknown-model", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--model", "big", "--out", o], "invalid choice"),
    ("infer-missing-checkpoint", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--checkpoint", f["dir"] / "sam3.pt", "--out", o], "does not exist"),
    ("infer-bf16-weights-fp32-compute", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--weights-dtype", "bf16", "--out", o], "--dtype bf16"),
    ("infer-folder-as-checkpoint", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--checkpoint", f["empty_folder"], "--out", o], "not a file"),
    ("infer-text-checkpoint", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--model", "tiny", "--device", "cpu", "--checkpoint", f["text.pt"], "--out", o], "not a PyTorch checkpoint"),
    ("infer-truncated-checkpoint", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--model", "tiny", "--device", "cpu", "--checkpoint", f["truncated.pt"], "--out", o], "not a PyTorch checkpoint"),
    ("infer-wrong-keys-checkpoint", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--model", "tiny", "--device", "cpu", "--checkpoint", f["wrongkeys.pt"], "--out", o], "not for this model"),
    ("infer-out-under-a-file", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--out", f["afile"] / "out"], "under the file"),
    ("infer-out-is-a-file", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--out", f["afile"]], "is a file"),
    ("infer-out-read-only", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--out", "/sys/npu_compat_out"], "cannot be written"),
    ("infer-unknown-device", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--model", "tiny", "--device", "tpu", "--out", o], "tpu"),
    # sam3_demo
    ("demo-corrupt-image", "sam3_demo", lambda f, o: ["--image", f["corrupt.png"], "--out", o], "cannot be decoded"),
    ("demo-bomb-image", "sam3_demo", lambda f, o: ["--image", f["bomb.png"], "--out", o], "too large"),
    ("demo-threshold-2", "sam3_demo", lambda f, o: ["--threshold", "2", "--out", o], "[0, 1]"),
    ("demo-empty-prompt", "sam3_demo", lambda f, o: ["--prompt", "", "--out", o], "empty text prompt"),
    ("demo-bad-box", "sam3_demo", lambda f, o: ["--box", "0.5,0.5", "--out", o], "cx,cy,w,h"),
    ("demo-top-k-0", "sam3_demo", lambda f, o: ["--top-k", "0", "--out", o], "from 1 to 200"),
    ("demo-missing-checkpoint", "sam3_demo", lambda f, o: ["--checkpoint", f["dir"] / "sam3.pt", "--out", o], "does not exist"),
    ("demo-out-under-a-file", "sam3_demo", lambda f, o: ["--out", f["afile"] / "x"], "under the file"),
    ("demo-text-checkpoint", "sam3_demo", lambda f, o: ["--model", "tiny", "--device", "cpu", "--checkpoint", f["text.pt"], "--out", o], "not a PyTorch checkpoint"),
    # sam3_video
    ("video-text-frame-99", "sam3_video", lambda f, o: [f["clip.mp4"], "--text", "x", "--text-frame", "99", "--model", "tiny", "--out", o], "outside the video"),
    ("video-box-outside-frame", "sam3_video", lambda f, o: [f["clip.mp4"], "--box", "0.95,0.5,0.3,0.3", "--model", "tiny", "--out", o], "outside the picture"),
    ("video-box-pixels", "sam3_video", lambda f, o: [f["clip.mp4"], "--box", "10,20,60,40", "--model", "tiny", "--out", o], "fractions"),
    ("video-bad-point", "sam3_video", lambda f, o: [f["clip.mp4"], "--text", "x", "--point", "nonsense", "--model", "tiny", "--out", o], "FRAME:X,Y"),
    ("video-point-outside-frame", "sam3_video", lambda f, o: [f["clip.mp4"], "--text", "x", "--point", "1:500,10", "--model", "tiny", "--out", o], "outside the 64x48"),
    ("video-point-frame-99", "sam3_video", lambda f, o: [f["clip.mp4"], "--text", "x", "--point", "99:5,5", "--model", "tiny", "--out", o], "outside the video"),
    ("video-missing", "sam3_video", lambda f, o: [f["dir"] / "nope.mp4", "--text", "x", "--model", "tiny", "--out", o], "not found"),
    ("video-not-a-video", "sam3_video", lambda f, o: [f["fake.mp4"], "--text", "x", "--model", "tiny", "--out", o], "video"),
    ("video-text-file-not-a-video", "sam3_video", lambda f, o: [f["notes.txt"], "--text", "x", "--model", "tiny", "--out", o], "not a video file"),
    ("video-empty-text", "sam3_video", lambda f, o: [f["clip.mp4"], "--text", "", "--model", "tiny", "--out", o], "empty text prompt"),
    ("video-no-prompt", "sam3_video", lambda f, o: [f["clip.mp4"], "--model", "tiny", "--out", o], "no text or box"),
    ("video-out-under-a-file", "sam3_video", lambda f, o: [f["clip.mp4"], "--text", "x", "--model", "tiny", "--out", f["afile"] / "o"], "under the file"),
    ("video-text-checkpoint", "sam3_video", lambda f, o: [f["clip.mp4"], "--text", "x", "--model", "tiny", "--device", "cpu", "--checkpoint", f["text.pt"], "--out", o], "not a PyTorch checkpoint"),
    # coco_eval
    ("coco-no-coco-img", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--output-json", o / "p.json"], "--coco-img"),
    ("coco-missing-coco-img", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["dir"] / "nope", "--output-json", o / "p.json"], "does not exist"),
    ("coco-bf16-weights-fp32-compute", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--weights-dtype", "bf16", "--output-json", o / "p.json"], "--dtype bf16"),
    ("coco-capture-with-sequential", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--sequential", "--capture", "auto", "--output-json", o / "p.json"], "not to --sequential"),
    ("coco-capture-graph-on-cpu", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--capture", "graph", "--model", "tiny", "--output-json", o / "p.json"], "needs a cuda or npu device"),
    ("infer-capture-graph-on-cpu", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--capture", "graph", "--out", o], "needs a cuda or npu device"),
    ("coco-max-images-0", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--max-images", "0", "--output-json", o / "p.json"], "-1 for all"),
    ("coco-images-empty", "coco_eval", lambda f, o: ["--coco-ann", f["ann_no_images.json"], "--coco-img", f["images"], "--output-json", o / "p.json"], "no images"),
    ("coco-categories-empty", "coco_eval", lambda f, o: ["--coco-ann", f["ann_no_categories.json"], "--coco-img", f["images"], "--output-json", o / "p.json"], "no categories"),
    ("coco-ann-not-json", "coco_eval", lambda f, o: ["--coco-ann", f["notes.txt"], "--coco-img", f["images"], "--output-json", o / "p.json"], "not JSON"),
    ("coco-ann-missing", "coco_eval", lambda f, o: ["--coco-ann", f["dir"] / "nope.json", "--coco-img", f["images"], "--output-json", o / "p.json"], "does not exist"),
    ("coco-output-is-folder", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--output-json", f["empty_folder"]], "is a folder"),
    ("coco-output-under-file", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--output-json", f["afile"] / "p.json"], "under the file"),
    ("coco-report-into-folder", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--output-json", o / "p.json", "--report", f["empty_folder"]], "is a folder"),
    ("coco-confidence-2", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--confidence-threshold", "2"], "[0, 1]"),
    ("coco-warmup-negative", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--warmup", "-1"], ">= 0"),
    ("coco-text-checkpoint", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--output-json", o / "p.json", "--model", "tiny", "--checkpoint", f["text.pt"]], "not a PyTorch checkpoint"),
    ("coco-eval-only-missing-preds", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--eval-only", "--output-json", o / "p.json"], "does not exist"),
    # parity
    ("parity-unknown-model", "parity", lambda f, o: ["capture", "--model", "big", "--out", o / "i.json"], "invalid choice"),
    ("parity-text-checkpoint", "parity", lambda f, o: ["capture", "--checkpoint", f["text.pt"], "--out", o / "i.json"], "not a PyTorch checkpoint"),
    ("parity-missing-inventory", "parity", lambda f, o: ["replay", "--inventory", f["dir"] / "nope.json"], "capture --out"),
    ("parity-text-inventory", "parity", lambda f, o: ["replay", "--inventory", f["notes.txt"]], "not valid JSON"),
    ("parity-out-under-file", "parity", lambda f, o: ["capture", "--out", f["afile"] / "i.json"], "under the file"),
    # verify_patches
    ("patches-fuzz-negative", "verify_patches", lambda f, o: ["check", "--fuzz", "-3", "--no-import-check"], ">= 0"),
    ("patches-apply-fuzz-negative", "verify_patches", lambda f, o: ["apply", "--fuzz", "-1", "--out", o / "tree"], ">= 0"),
    ("patches-series-missing", "verify_patches", lambda f, o: ["check", "--series", f["dir"] / "nope", "--no-import-check"], "not found"),
    ("patches-series-is-folder", "verify_patches", lambda f, o: ["check", "--series", f["empty_folder"], "--no-import-check"], "is a folder"),
    ("patches-series-entry-outside", "verify_patches", lambda f, o: ["check", "--series", f["outside.series"], "--no-import-check"], "outside its folder"),
    ("patches-unknown-upstream", "verify_patches", lambda f, o: ["check", "--upstream", "svn:sam3", "--no-import-check"], "not understood"),
    ("patches-upstream-dir-without-sam3", "verify_patches", lambda f, o: ["check", "--upstream", f"dir:{f['empty_folder']}", "--no-import-check"], "has no sam3/ folder"),
    ("patches-upstream-inexact-pypi", "verify_patches", lambda f, o: ["check", "--upstream", "pypi:sam3", "--no-import-check"], "exact version"),
    ("patches-apply-out-under-file", "verify_patches", lambda f, o: ["apply", "--out", f["afile"] / "tree"], "under the file"),
    ("patches-apply-out-is-file", "verify_patches", lambda f, o: ["apply", "--out", f["afile"]], "is a file"),
    ("patches-matrix-json-under-file", "verify_patches", lambda f, o: ["matrix", "--upstream", "pypi:sam3==0.1.4", "--json", f["afile"] / "m.json"], "under the file"),
    ("patches-refresh-out-under-file", "verify_patches", lambda f, o: ["refresh", "--upstream", "pypi:sam3==0.1.4", "--out", f["afile"] / "s"], "under the file"),
    # env
    ("env-only-unknown", "env", lambda f, o: ["--only", "foo"], "no such finding"),
    ("env-unknown-line", "env", lambda f, o: ["--line", "cann0"], "invalid choice"),
    ("env-constraints-into-folder", "env", lambda f, o: ["constraints", "-o", f["empty_folder"]], "is a folder"),
    # a new user's next cases: each once silently accepted, dropped or a traceback
    ("demo-prompt-10000-chars", "sam3_demo", lambda f, o: ["--prompt", "a" * 10000, "--out", o], "32 tokens"),
    ("infer-prompt-10000-chars", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "a" * 10000, "--out", o], "32 tokens"),
    ("demo-top-k-a-billion", "sam3_demo", lambda f, o: ["--top-k", "1000000000", "--out", o], "from 1 to 200"),
    ("infer-bpe-missing-tiny", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--model", "tiny", "--bpe", "/nonexistent", "--out", o], "not a readable file"),
    ("infer-device-empty", "sam3_infer", lambda f, o: [f["good.png"], "--prompt", "x", "--device", "", "--out", o], "unknown device ''"),
    ("coco-device-empty", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--coco-img", f["images"], "--device", ""], "unknown device ''"),
    ("coco-eval-only-nan-score", "coco_eval", lambda f, o: ["--coco-ann", f["ann.json"], "--eval-only", "--output-json", f["nan_preds.json"]], "not a finite number"),
    ("coco-duplicate-image-ids", "coco_eval", lambda f, o: ["--coco-ann", f["ann_dup_images.json"], "--coco-img", f["images"], "--output-json", o / "p.json"], "appears twice in 'images'"),
    ("coco-duplicate-category-ids", "coco_eval", lambda f, o: ["--coco-ann", f["ann_dup_categories.json"], "--coco-img", f["images"], "--output-json", o / "p.json"], "appears twice in 'categories'"),
    ("coco-annotation-missing-image", "coco_eval", lambda f, o: ["--coco-ann", f["ann_orphan.json"], "--coco-img", f["images"], "--output-json", o / "p.json"], "not in 'images'"),
    ("parity-replay-limit-negative", "parity", lambda f, o: ["replay", "--inventory", f["notes.txt"], "--limit", "-3"], ">= 1"),
    ("parity-capture-device-tpu", "parity", lambda f, o: ["capture", "--device", "tpu", "--out", o / "i.json"], "unknown device 'tpu'"),
    ("env-only-empty-name", "env", lambda f, o: ["--only", "platform,,torch"], "empty name"),
    ("video-zero-byte-mp4", "sam3_video", lambda f, o: [f["empty.mp4"], "--text", "x", "--model", "tiny", "--out", o], "0 bytes"),
    ("bench-update-doc-missing", "bench", lambda f, o: ["--quick", "--json", o / "b.json", "--update-doc", f["dir"] / "nope.md"], "does not exist"),
    ("compare-a-json-list", "compare_runs", lambda f, o: [f["metrics.json"], f["list.json"]], "JSON list"),
    ("compare-a-binary-file", "compare_runs", lambda f, o: [f["metrics.json"], f["binary.bin"]], "not a text file"),
    ("compare-json-is-a-folder", "compare_runs", lambda f, o: [f["metrics.json"], f["metrics.json"], "--json", f["empty_folder"]], "is a folder"),
]


@pytest.fixture
def clean_shim():
    import npu_compat

    npu_compat.revert()
    yield
    npu_compat.revert()


def call(tool: str, argv: list) -> int:
    try:
        return main_of(tool)([str(a) for a in argv])
    except SystemExit as stop:  # argparse
        return stop.code if isinstance(stop.code, int) else 2


def assert_one_line_error(code: int, err: str, words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}; stderr: {err[-1500:]}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"want one line on stderr, got {len(lines)}:\n{err[-1500:]}"
    assert "error" in lines[0] and words in lines[0], lines[0]
    assert ";" in lines[0] or "--help" in lines[0], f"no fix named: {lines[0]}"


def test_the_suite_is_big_enough():
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case, tool, argv, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, tool, argv, words, fx, tmp_path, capsys, clean_shim, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.json").write_text('{"kept": true}')  # an earlier run's output must survive
    before = snapshot(fx["dir"], tmp_path)
    code = call(tool, argv(fx, out))
    err = capsys.readouterr().err
    assert_one_line_error(code, err, words)
    assert snapshot(fx["dir"], tmp_path) == before, "a file was written, removed or changed"


def test_resume_log_with_a_corrupt_line_names_file_and_line_and_keeps_the_log(fx, tmp_path, capsys, clean_shim):
    preds = tmp_path / "p.json"
    log = Path(f"{preds}.parts") / "rank-0.jsonl"
    log.parent.mkdir()
    good = json.dumps({"image_id": 1, "status": "ok", "records": [], "error": ""})
    log.write_text(f"{good}\n{{not json\n{good}\n")
    before = snapshot(tmp_path)
    code = call("coco_eval", ["--coco-ann", fx["ann.json"], "--coco-img", fx["images"], "--output-json", preds,
                              "--model", "tiny", "--device", "cpu", "--resume"])
    err = capsys.readouterr().err
    assert_one_line_error(code, err, f"{log} line 2 is corrupt")
    assert snapshot(tmp_path) == before, "nothing already done may be lost"


def test_second_run_on_the_same_output_is_refused(fx, tmp_path, capsys, clean_shim):
    preds = tmp_path / "p.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from npu_compat.workloads.run_lock import run_lock\n"
         "with run_lock(sys.argv[1]):\n print('locked', flush=True); time.sleep(120)", str(preds)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = snapshot(tmp_path)
        code = call("coco_eval", ["--coco-ann", fx["ann.json"], "--coco-img", fx["images"], "--output-json", preds,
                                  "--model", "tiny", "--device", "cpu", "--no-progress"])
        err = capsys.readouterr().err
        assert_one_line_error(code, err, "still going")
        assert snapshot(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()


def test_a_folder_run_skips_a_bad_image_counts_it_and_does_the_rest(fx, tmp_path, capsys, clean_shim):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("good.png", "corrupt.png", "bomb.png"):
        (folder / name).write_bytes(fx[name].read_bytes())
    (folder / "also.png").write_bytes(fx["good.png"].read_bytes())
    out = tmp_path / "out"
    code = call("sam3_infer", [folder, "--prompt", "x", "--model", "tiny", "--device", "cpu", "--out", out])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    assert "Traceback" not in captured.err
    assert captured.err.count("skipped") == 2 and "corrupt.png" in captured.err and "bomb.png" in captured.err
    assert "2 of 4 images done, 2 skipped" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["also.json", "also.overlay.png", "good.json", "good.overlay.png"]


@pytest.mark.parametrize("argv, words", [
    ([str(TOOLS / "sam3_infer.py"), "{corrupt}", "--prompt", "cat"], "cannot be decoded"),
    ([str(TOOLS / "sam3_video.py"), "{clip}", "--text", "x", "--text-frame", "99", "--model", "tiny"], "outside the video"),
    ([str(TOOLS / "coco_eval.py"), "--coco-ann", "{ann}"], "--coco-img"),
    (["-m", "npu_compat.env", "--only", "foo"], "no such finding"),
    (["-m", "npu_compat.parity", "capture", "--checkpoint", "{text}", "--out", "i.json"], "not a PyTorch checkpoint"),
    (["-m", "npu_compat.apply", "--device", "cpu", "--", "{folder}"], "not a script"),
    ([str(TOOLS / "verify_patches.py"), "check", "--fuzz", "-3"], ">= 0"),
])
def test_as_a_user_runs_it(argv, words, fx, tmp_path):
    names = {"corrupt": fx["corrupt.png"], "clip": fx["clip.mp4"], "ann": fx["ann.json"], "text": fx["text.pt"],
             "folder": fx["empty_folder"]}
    start = time.perf_counter()
    done = run_python(*[a.format(**names) for a in argv], cwd=tmp_path, timeout=120)
    assert_one_line_error(done.returncode, done.stderr, words)
    assert list(tmp_path.iterdir()) == [], "nothing written"
    assert time.perf_counter() - start < 60


def test_report_rank_outside_torchrun_is_rank_0(fx, tmp_path):
    """``--report a/rep-{rank}.json`` in a single process (no torchrun): rep-0.json, not rep-.json."""
    script = tmp_path / "s.py"
    script.write_text("print('ran')\n")
    done = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(tmp_path / "a" / "rep-{rank}.json"),
                      "--", str(script), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["rep-0.json"]


def test_demo_device_conflicting_with_the_shims(tmp_path, capsys, clean_shim):
    """``python -m npu_compat.apply --device cpu -- tools/sam3_demo.py --device cuda``: one device too many."""
    import npu_compat

    npu_compat.apply(device="cpu")
    before = snapshot(tmp_path)
    code = call("sam3_demo", ["--model", "tiny", "--device", "cuda", "--out", tmp_path / "out"])
    assert_one_line_error(code, capsys.readouterr().err, "already runs this script on cpu")
    assert snapshot(tmp_path) == before
