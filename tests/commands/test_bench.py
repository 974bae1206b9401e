"""tools/bench.py --quick, as CI runs it: every sub-benchmark on the tiny model, counts held to the budget.

No timing is asserted. The counts are deterministic, so they are: a change that adds host syncs or device
ops to a budgeted path (npu_compat/bench/count_budget.json) makes --check-budget exit 1 and this test fail.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npu_compat.bench.budget import count_key, load_budget
from npu_compat.bench.markdown import BEGIN, END

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"shim-overhead", "image", "coco-prompts", "postprocess", "video", "counts", "peer-hf"}


def run(*argv: str, timeout: int = 1100) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, str(ROOT / "tools" / "bench.py"), *argv], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    doc = folder / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    proc = run("--quick", "--check-budget", "--device", "cpu", "--log-level", "quiet", "--json",
               str(folder / "out.json"), "--update-doc", str(doc))
    return proc, json.loads((folder / "out.json").read_text()) if proc.returncode in (0, 1) else None, doc


def test_quick_runs_every_sub_benchmark_and_records_where(quick):
    proc, results, _ = quick
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {r["name"] for r in results} == NAMES
    for r in results:
        env = r["environment"]
        assert env["command"].startswith("python tools/bench.py --quick")
        assert env["device"] == "cpu" and env["torch"] and "cpu_flags" in env and env["date"]
        assert r["rows"] or r["skipped"]


def test_counts_are_within_the_committed_budget_and_the_goal(quick):
    _, results, _ = quick
    counts = next(r for r in results if r["name"] == "counts")
    budget = counts["raw"]["budget"]
    assert budget["key"] == count_key("tiny", 80, 40) and budget["known"]
    assert budget["over"] == []
    rows = {row["name"]: row for row in counts["raw"]["rows"]}
    assert not [name for name in budget["unbudgeted"] if "(before)" not in name]
    assert set(load_budget()["rows"][budget["key"]]) <= set(rows)
    kit = rows["kit: image at 80 prompts (after)"]
    assert kit["syncs"] <= 0.1 and kit["ops"] <= 100
    # what the sync rules remove is measured, not assumed
    assert rows["upstream: one prompt (before)"]["syncs"] > rows["upstream: one prompt (after)"]["syncs"]


def test_peer_hf_ran_or_skipped_with_the_install_hint(quick):
    _, results, _ = quick
    peer = next(r for r in results if r["name"] == "peer-hf")
    if peer["skipped"]:
        assert "pip install '.[peer]'" in peer["skipped"]
    else:
        assert {row[0].split(": ", 1)[1] for row in peer["rows"]} >= {"encode, ours / HF", "one_prompt, ours / HF"}


def test_the_document_gets_the_summary_block(quick):
    _, _, doc = quick
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n")
    assert all(BEGIN.format(name=n) in text and END.format(name=n) in text for n in NAMES)
    assert "### counts" in text and "| measurement | value | note |" in text


def test_unknown_sub_benchmark_is_one_line_and_exit_2():
    proc = run("warp-drive", timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "npu-compat-bench: error: no sub-benchmark warp-drive; choose from shim-overhead, image, coco-prompts, postprocess, "
        "video, counts, peer-hf, capture"]
