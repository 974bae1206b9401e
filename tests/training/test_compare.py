"""Tests for npu_compat.training.compare (the table logic; real runs: test_trainer_through_shim.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from npu_compat.errors import NpuCompatError
from npu_compat.training.compare import METRICS, compare_runs, load_run, to_json, to_markdown

AP = "Meters_train/val_roboflow100/detection/coco_eval_bbox_AP"


def _write(path: Path, *epochs: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in epochs))
    return path


def test_last_epoch_is_compared_and_lower_loss_wins(tmp_path: Path) -> None:
    a = _write(tmp_path / "a" / "logs" / "ds" / "train_stats.json", {"Losses/train_all_loss": 9.0},
               {"Losses/train_all_loss": 4.0})
    _write(tmp_path / "a" / "logs" / "ds" / "val_stats.json", {AP: 0.5})
    b = _write(tmp_path / "b.json", {"Losses/train_all_loss": 5.0, AP: 0.6})
    rows = {r.metric: r for r in compare_runs(load_run([tmp_path / "a"]), load_run([b]), "gpu", "npu")}
    loss, ap = rows["train_loss"], rows["AP"]
    assert (loss.a, loss.b, loss.diff, loss.relative, loss.better) == (4.0, 5.0, 1.0, 0.25, "gpu")
    assert ap.better == "npu" and ap.relative == pytest.approx(0.2)
    assert rows["train_giou"].better == "missing in gpu and npu"
    assert a.exists()


def test_markdown_and_json_name_missing_metrics(tmp_path: Path) -> None:
    rows = compare_runs({"Losses/train_all_loss": 2.0}, {"Losses/train_all_loss": 2.0, AP: 0.1}, "x", "y")
    text = to_markdown(rows, "x", "y").splitlines()
    assert text[0] == "| metric | x | y | y-x | relative | winner |"
    assert len(text) == 2 + len(METRICS)
    assert "| train_loss | 2.00000000 | 2.00000000 | 0.00000000 | 0.00% | tie |" in text
    assert "| AP | missing | 0.10000000 | missing | n/a | missing in x |" in text
    payload = to_json(rows, "x", "y")
    assert "AP" in payload["missing"] and "train_loss" not in payload["missing"]


def test_mask_metrics_are_added_when_present() -> None:
    rows = compare_runs({"a/coco_eval_segm_AP": 0.2}, {}, "a", "b")
    assert "segm_AP" in [r.metric for r in rows]


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(NpuCompatError, match="does not exist"):
        load_run([tmp_path / "nope"])
    with pytest.raises(NpuCompatError, match="no train_stats.json"):
        load_run([tmp_path])
    (tmp_path / "bad.json").write_text("not json\n")
    with pytest.raises(NpuCompatError, match="neither JSON nor JSON lines"):
        load_run([tmp_path / "bad.json"])
    with pytest.raises(NpuCompatError, match="several datasets"):
        compare_runs({"x/coco_eval_bbox_AP": 1.0, "y/coco_eval_bbox_AP": 2.0}, {})


def test_a_plain_metrics_object_gets_a_row_per_metric(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"val": {"loss": 2.0, "acc": 0.5}, "name": "run"}, indent=1))
    run = load_run([tmp_path / "m.json"])
    assert run == {"val/loss": 2.0, "val/acc": 0.5}
    rows = {r.metric: r for r in compare_runs(run, {"val/loss": 1.0, "val/acc": 0.75}, "a", "b")}
    assert set(rows) == {"val/loss", "val/acc"}
    assert rows["val/loss"].lower_is_better and rows["val/loss"].better == "b"
    assert not rows["val/acc"].lower_is_better and rows["val/acc"].better == "b"
