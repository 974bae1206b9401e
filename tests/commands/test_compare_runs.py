"""Tests for the compare-runs command (two real training runs: tests/training/test_trainer_through_shim.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from npu_compat.commands.compare_runs import main
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
        f"compare-runs: error: {tmp_path / 'nope'} does not exist; check the path of the run's folder or metric file"]


def test_two_plain_metrics_files_as_positional_runs(tmp_path: Path, capsys) -> None:
    """The most common case: {"metric": value} files, pretty-printed, given as RUN_A RUN_B."""
    (tmp_path / "gpu.json").write_text(json.dumps({"loss": 0.5, "accuracy": 0.9, "eval": {"mAP": 0.4}}, indent=2))
    (tmp_path / "npu.json").write_text(json.dumps({"loss": 0.4, "accuracy": 0.8, "eval": {"mAP": 0.4}}, indent=2))
    assert main([str(tmp_path / "gpu.json"), str(tmp_path / "npu.json"), "--label-a", "gpu", "--label-b", "npu"]) == 0
    out = capsys.readouterr().out
    assert "| loss | 0.50000000 | 0.40000000 | -0.10000000 | -20.00% | npu better |" in out
    assert "| accuracy | 0.90000000 | 0.80000000 | -0.10000000 | -11.11% | gpu better |" in out
    assert "| eval/mAP | 0.40000000 | 0.40000000 | 0.00000000 | 0.00% | tie |" in out
    assert "missing" not in out


@pytest.mark.parametrize("content, words", [
    (json.dumps([1, 2, 3]), "holds a JSON list"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a text file"),
    ("", "is empty"),
    ("{not json\n", "neither JSON nor JSON lines"),
    (json.dumps({"accuracy": 0.9}), "no metric in common"),
])
def test_a_file_it_cannot_read_is_refused_naming_it(tmp_path: Path, capsys, content, words) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"loss": 1.0}))
    bad = tmp_path / "bad.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main([str(good), str(bad), "--json", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and (str(bad) in err or "in common" in err), err
    assert not (tmp_path / "t.json").exists()


@pytest.mark.parametrize("argv, words", [
    (["{a}"], "1 runs given"),
    (["{a}", "{a}", "{a}"], "3 runs given"),
    (["{a}", "{a}", "--a", "{a}"], "both as RUN_A RUN_B and as --a/--b"),
    (["--a", "{a}"], "two runs are needed"),
    (["{a}", "{a}", "--json", "{folder}"], "is a folder"),
])
def test_bad_command_lines(tmp_path: Path, capsys, argv, words) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"loss": 1.0}))
    names = {"a": str(tmp_path / "a.json"), "folder": str(tmp_path)}
    assert main([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
