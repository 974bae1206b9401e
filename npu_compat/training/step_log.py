"""A per-step scalar log for sam3's trainer, as append-only JSON lines, one file per rank.

sam3's ``Logger`` instantiates ``logging.tensorboard_writer`` from the config and calls its
``log(name, value, step)`` / ``log_dict(payload, step)`` on every rank (upstream's TensorBoard
writer then drops all but rank 0). :func:`make_step_logger` has the same interface and writes
every rank's scalars to ``<log_dir>/steps.rank<R>.jsonl``, one ``{"name", "step", "value"}``
line per call, flushed at once: a killed run keeps every line written before the kill, and a
resumed run appends. :func:`read_step_log` reads them back (the last value of a repeated
``(name, step)`` wins, so a resumed run's re-run steps replace the killed run's).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from npu_compat.atomic_files import open_append

LOSS_TAG = "Step_Losses/Losses/train_all_loss"
"""The core training loss of each step, as the trainer tags it for the ``all`` loss key."""


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _scalar(value: Any) -> float:
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().item()
    return float(value)


class StepLogger:
    """``log`` / ``log_dict`` / ``log_hparams`` / ``flush`` / ``close`` as upstream's TensorBoard logger."""

    def __init__(self, log_dir: str, rank: int | None = None) -> None:
        self.rank = _rank() if rank is None else rank
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(log_dir) / f"steps.rank{self.rank}.jsonl"
        self._file = open_append(self.path)  # closed in close()

    def log(self, name: str, data: Any, step: int) -> None:
        try:
            value = _scalar(data)
        except (TypeError, ValueError, RuntimeError):
            return  # not a scalar (upstream's writer would reject it too)
        line = {"name": name, "step": int(step), "value": value if math.isfinite(value) else str(value)}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()

    def log_dict(self, payload: Mapping[str, Any], step: int) -> None:
        for name, value in payload.items():
            self.log(name, value, step)

    def log_hparams(self, hparams: Mapping[str, Any], meters: Mapping[str, Any]) -> None:
        return None

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def make_step_logger(log_dir: str, **_ignored: Any) -> StepLogger:
    """Hydra target for ``trainer.logging.tensorboard_writer`` (extra TensorBoard kwargs are ignored)."""
    return StepLogger(log_dir)


def read_step_log(path: str | os.PathLike[str]) -> dict[str, dict[int, float]]:
    """``{name: {step: value}}`` from one rank's file; a torn last line (a killed writer) is skipped."""
    out: dict[str, dict[int, float]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            out.setdefault(row["name"], {})[int(row["step"])] = float(row["value"])
    return out


def rank_logs(log_dir: str | os.PathLike[str]) -> list[Path]:
    """The per-rank files in ``log_dir``, rank 0 first."""
    files = Path(log_dir).glob("steps.rank*.jsonl")
    return sorted(files, key=lambda p: int(p.name[len("steps.rank"):-len(".jsonl")]))


def loss_curve(log_dir: str | os.PathLike[str], tag: str = LOSS_TAG) -> list[float]:
    """The global batch's loss per step: the mean over ranks of each rank's ``tag`` (steps in order).

    With the loss normalised by the global box count (sam3's default ``normalization: global``)
    and no batch-size scaling, the mean of the ranks' losses is the loss of the whole batch.
    """
    per_rank = [read_step_log(p).get(tag, {}) for p in rank_logs(log_dir)]
    if not per_rank or not per_rank[0]:
        return []
    steps = sorted(set.intersection(*(set(r) for r in per_rank)))
    return [sum(r[s] for r in per_rank) / len(per_rank) for s in steps]


__all__ = ["LOSS_TAG", "StepLogger", "make_step_logger", "read_step_log", "rank_logs", "loss_curve"]
