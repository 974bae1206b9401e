"""Tests for tools/compare_runs.py (the CLI; two real runs: tests/training/test_trainer_through_shim.py)."""
from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_python


def test_prints_markdown_and_writes_json(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps({"Losses/train_all_loss": 3.0}) + "\n")
    b.write_text(json.dumps({"Losses/train_all_loss": 2.0}) + "\n")
    done = run_python("tools/compare_runs.py", "--a", str(a), "--b", str(b), "--label-a", "gpu", "--label-b", "npu",
                      "--json", str(tmp_path / "out" / "t.json"), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "| train_loss | 3.00000000 | 2.00000000 | -1.00000000 | -33.33% | npu better |" in done.stdout
    table = json.loads((tmp_path / "out" / "t.json").read_text())
    assert table["a"] == "gpu" and "AP" in table["missing"]


def test_a_missing_run_is_a_one_line_error(tmp_path: Path) -> None:
    done = run_python("tools/compare_runs.py", "--a", str(tmp_path / "nope"), "--b", str(tmp_path), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"compare_runs: error: {tmp_path / 'nope'} does not exist; check the path of the run's folder or metric file"]
