"""Tests for npu_compat.training.step_log."""
from __future__ import annotations

from pathlib import Path

import torch

from npu_compat.training.step_log import LOSS_TAG, StepLogger, loss_curve, make_step_logger, rank_logs, read_step_log


def test_each_rank_writes_its_own_append_only_file(tmp_path: Path) -> None:
    for rank, values in ((0, (3.0, 2.0)), (1, (5.0, 4.0))):
        log = StepLogger(str(tmp_path), rank=rank)
        for step, value in enumerate(values):
            log.log(LOSS_TAG, torch.tensor(value), step)
        log.log_dict({"Trainer/epoch": 0, "not a scalar": torch.zeros(3)}, 1)
        log.close()
    assert [p.name for p in rank_logs(tmp_path)] == ["steps.rank0.jsonl", "steps.rank1.jsonl"]
    assert read_step_log(tmp_path / "steps.rank0.jsonl") == {LOSS_TAG: {0: 3.0, 1: 2.0}, "Trainer/epoch": {1: 0.0}}
    assert loss_curve(tmp_path) == [4.0, 3.0]  # the mean over ranks


def test_a_resumed_run_replaces_re_run_steps_and_a_torn_line_is_skipped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RANK", "0")
    first = make_step_logger(str(tmp_path), flush_secs=120)
    for step, value in enumerate((9.0, 8.0, 7.5)):
        first.log(LOSS_TAG, value, step)
    path = tmp_path / "steps.rank0.jsonl"
    with open(path, "a") as f:
        f.write('{"name": "Step_Lo')  # killed mid-write
    second = make_step_logger(str(tmp_path))
    second._file.write("\n")
    for step, value in ((2, 7.0), (3, 6.0)):
        second.log(LOSS_TAG, value, step)
    assert loss_curve(tmp_path) == [9.0, 8.0, 7.0, 6.0]
