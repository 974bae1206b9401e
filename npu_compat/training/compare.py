"""Compare two training runs: loss terms and COCO metrics side by side, with which run is better.

A run is given as its experiment folder (``launcher.experiment_log_dir``: the trainer writes
``logs/<dataset>/train_stats.json`` and ``val_stats.json`` there) or as those files themselves
(JSON lines, one per epoch; the last line is the run's final value), or as a plain metrics file,
one JSON object ``{"metric": value, ...}`` (nested objects are read as ``outer/inner``).
When neither run has the trainer's metrics, the table has a row per metric either run has:
lower is better for names with loss, error, time or latency in them, higher for the rest. The table has one
row per metric of :data:`METRICS` (upstream's loss terms, then COCO box metrics, then mask
metrics when either run has them): value A, value B, B - A, (B - A) / |A|, and the better run,
knowing that lower is better for losses. A metric one run lacks stays in the table, named as
missing, never skipped.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from npu_compat.errors import NpuCompatError
from npu_compat.atomic_files import write_json_atomic

STATS_FILES = ("train_stats.json", "val_stats.json")


@dataclass(frozen=True)
class Metric:
    name: str  # the table's row name
    key: str  # the trainer's key (losses) or the COCO suffix after "coco_eval_<iou>_" (meters)
    lower_is_better: bool


LOSSES = (
    Metric("train_loss", "Losses/train_all_loss", True),
    Metric("train_core_loss", "Losses/train_all_core_loss", True),
    Metric("train_bbox", "Losses/train_all_loss_bbox", True),
    Metric("train_giou", "Losses/train_all_loss_giou", True),
    Metric("train_ce", "Losses/train_all_loss_ce", True),
)
COCO = (("AP", "AP"), ("AP50", "AP_50"), ("AP75", "AP_75"), ("AP_small", "AP_small"), ("AP_medium", "AP_medium"),
        ("AP_large", "AP_large"), ("AR100", "AR_maxDets@100"), ("AR_medium", "AR_medium"), ("AR_large", "AR_large"))


def coco_metrics(iou_type: str) -> tuple[Metric, ...]:
    prefix = "" if iou_type == "bbox" else f"{iou_type}_"
    return tuple(Metric(f"{prefix}{name}", f"coco_eval_{iou_type}_{suffix}", False) for name, suffix in COCO)


METRICS = LOSSES + coco_metrics("bbox")
"""The rows always shown; ``segm`` rows are added when either run has mask metrics."""


_FILE_FIX = "pass a run folder, the trainer's train_stats.json / val_stats.json, or a JSON object of metrics"


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flat(value, f"{prefix}{key}/") if isinstance(value, Mapping) else {f"{prefix}{key}": value})
    return out


def _read_metrics(path: Path) -> dict[str, Any]:
    """A plain JSON object of metrics, or the last line of JSON lines (the trainer's stats files)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NpuCompatError(f"{path} is not a text file (binary data)", _FILE_FIX) from None
    except OSError as err:
        raise NpuCompatError(f"{path} cannot be read ({err.strerror or err})", _FILE_FIX) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if data is None:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise NpuCompatError(f"{path} is neither JSON nor JSON lines ({exc.msg} on line {number})",
                                         _FILE_FIX) from None
    if data is None:
        raise NpuCompatError(f"{path} is empty", _FILE_FIX)
    if not isinstance(data, dict):
        raise NpuCompatError(f"{path} holds a JSON {type(data).__name__}, not an object of metrics", _FILE_FIX)
    return _flat(data)


def _stats_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        found = sorted(p for name in STATS_FILES for p in source.rglob(name))
        if found:
            return found
        raise NpuCompatError(f"no {' or '.join(STATS_FILES)} under {source}",
                             "pass the run's experiment folder (launcher.experiment_log_dir) or the files")
    raise NpuCompatError(f"{source} does not exist", "check the path of the run's folder or metric file")


def load_run(sources: Iterable[str | os.PathLike[str]]) -> dict[str, float]:
    """The final value of every scalar in a run's metric files (later files win on a clash)."""
    values: dict[str, float] = {}
    for source in sources:
        for path in _stats_files(Path(source)):
            for key, value in _read_metrics(path).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    values[key] = float(value)
    return values


def _lookup(run: Mapping[str, float], metric: Metric) -> float | None:
    if metric.key in run:
        return run[metric.key]
    if not metric.key.startswith("coco_eval_"):
        return None
    hits = sorted(k for k in run if k.rsplit("/", 1)[-1] == metric.key)
    if len(hits) > 1:
        raise NpuCompatError(f"{metric.key} appears for several datasets: {', '.join(hits)}",
                             "compare one dataset's files at a time")
    return run[hits[0]] if hits else None


@dataclass(frozen=True)
class Row:
    metric: str
    a: float | None
    b: float | None
    diff: float | None
    relative: float | None  # (b - a) / |a|; None when a is 0 or a value is missing
    better: str  # label of the better run, "tie", or "missing in <label>"
    lower_is_better: bool


def _row(metric: Metric, a: float | None, b: float | None, label_a: str, label_b: str) -> Row:
    if a is None or b is None:
        absent = " and ".join(label for label, v in ((label_a, a), (label_b, b)) if v is None)
        return Row(metric.name, a, b, None, None, f"missing in {absent}", metric.lower_is_better)
    diff = b - a
    relative = diff / abs(a) if a != 0 else None
    if diff == 0 or (math.isnan(a) or math.isnan(b)):
        better = "tie" if diff == 0 else "n/a"
    else:
        better = label_b if (diff < 0) == metric.lower_is_better else label_a
    return Row(metric.name, a, b, diff, relative, better, metric.lower_is_better)


def compare_runs(run_a: Mapping[str, float], run_b: Mapping[str, float], label_a: str = "A",
                 label_b: str = "B") -> list[Row]:
    """One :class:`Row` per metric of :data:`METRICS` (plus ``segm`` rows if either run has them)."""
    metrics = list(METRICS)
    if any("coco_eval_segm_" in k for k in (*run_a, *run_b)):
        metrics += coco_metrics("segm")
    if not any(_lookup(run, m) is not None for m in metrics for run in (run_a, run_b)):
        metrics = plain_metrics([*run_a, *(k for k in run_b if k not in run_a)])
    return [_row(m, _lookup(run_a, m), _lookup(run_b, m), label_a, label_b) for m in metrics]


_LOWER_IS_BETTER = ("loss", "error", "err", "time", "latency", "seconds")


def plain_metrics(keys: Iterable[str]) -> list[Metric]:
    """Rows for metrics the kit does not know: lower is better for losses, errors and times."""
    return [Metric(k, k, any(w in k.lower() for w in _LOWER_IS_BETTER)) for k in keys]


def shared_metrics(rows: Iterable[Row]) -> int:
    """How many rows have a value in both runs."""
    return sum(r.a is not None and r.b is not None for r in rows)


def _num(value: float | None) -> str:
    return "missing" if value is None else f"{value:.8f}"


def to_markdown(rows: Iterable[Row], label_a: str = "A", label_b: str = "B") -> str:
    lines = [f"| metric | {label_a} | {label_b} | {label_b}-{label_a} | relative | winner |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        relative = "n/a" if r.relative is None else f"{100 * r.relative:.2f}%"
        winner = r.better if r.better in ("tie", "n/a") or r.better.startswith("missing") else f"{r.better} better"
        lines.append(f"| {r.metric} | {_num(r.a)} | {_num(r.b)} | {_num(r.diff)} | {relative} | {winner} |")
    return "\n".join(lines) + "\n"


def to_json(rows: Iterable[Row], label_a: str = "A", label_b: str = "B") -> dict[str, Any]:
    rows = list(rows)
    return {"a": label_a, "b": label_b, "rows": [asdict(r) for r in rows],
            "missing": [r.metric for r in rows if r.better.startswith("missing")]}


__all__ = ["Metric", "Row", "METRICS", "LOSSES", "coco_metrics", "plain_metrics", "shared_metrics", "load_run",
           "compare_runs", "to_markdown",
           "to_json", "write_json_atomic"]
