"""Append-only JSONL results log: one line per finished image, flushed and fsynced as it finishes.

A line is ``{"image_id": int, "status": "ok" | "skipped", "records": [...], "error": str}``.
A run killed at any point leaves complete lines plus at most one torn last line; ``ResultsLog``
cuts the torn tail off when it opens the file (any other unreadable line stops the run with
:class:`ResultsLogError`, naming the file and line), so ``--resume`` skips exactly the images whose
line is complete and redoes the rest. Several logs (one per rank) live in one folder.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from npu_compat.errors import NpuCompatError
from npu_compat.atomic_files import write_json_atomic as _write_json_atomic
from npu_compat.atomic_files import open_append, replace_link


class ResultsLogError(NpuCompatError):
    """A results log holds a complete line that is not an entry (a torn last line is not an error)."""


@dataclass
class ImageEntry:
    image_id: int
    status: str
    records: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def _complete_prefix_length(path: Path) -> int:
    """Bytes up to and including the last newline (each line is written in one call, newline last)."""
    return path.read_bytes().rfind(b"\n") + 1


def read_entries(path: str | os.PathLike) -> Iterator[ImageEntry]:
    """Complete entries of one log, in file order (a torn last line is ignored)."""
    p = Path(path)
    if not p.exists():
        return
    with p.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                break
            try:
                obj = json.loads(raw)
                entry = ImageEntry(int(obj["image_id"]), str(obj["status"]), obj.get("records", []), obj.get("error", ""))
            except (ValueError, KeyError, TypeError) as err:
                raise ResultsLogError(f"results log {p} line {number} is corrupt ({type(err).__name__})",
                                      "delete that line (its image is redone) or the whole log, then --resume "
                                      "again") from None
            yield entry


class ResultsLog:
    """One writer's log file. Opening it truncates a torn tail left by a kill."""

    def __init__(self, path: str | os.PathLike, resume: bool) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_link(self.path)  # a link is replaced, never written through
        if resume and self.path.exists():
            keep = _complete_prefix_length(self.path)
            if keep != self.path.stat().st_size:
                with self.path.open("r+b") as fh:
                    fh.truncate(keep)
        elif self.path.exists():
            self.path.unlink()
        self._fh = open_append(self.path, binary=True)

    def append(self, entry: ImageEntry) -> None:
        line = json.dumps({"image_id": entry.image_id, "status": entry.status, "records": entry.records,
                           "error": entry.error}, separators=(",", ":"))
        self._fh.write(line.encode() + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def log_files(folder: str | os.PathLike) -> list[Path]:
    return sorted(Path(folder).glob("rank-*.jsonl"))


def finished_image_ids(folder: str | os.PathLike) -> set[int]:
    """Images with a complete "ok" line in any log of ``folder`` (any earlier world size).

    Skipped images (missing or corrupt files) are not finished: ``--resume`` tries them again.
    """
    return {e.image_id for path in log_files(folder) for e in read_entries(path) if e.status == "ok"}


def merge_entries(folder: str | os.PathLike, order: Iterable[int]) -> list[ImageEntry]:
    """One entry per image, ordered as ``order``: the first "ok" entry, else the first "skipped" one."""
    by_id: dict[int, ImageEntry] = {}
    for path in log_files(folder):
        for entry in read_entries(path):
            seen = by_id.get(entry.image_id)
            if seen is None or (seen.status != "ok" and entry.status == "ok"):
                by_id[entry.image_id] = entry
    return [by_id[i] for i in order if i in by_id]


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON via a temp file next to ``path``, fsync, then rename over it."""
    _write_json_atomic(path, obj, indent=None, fsync=True)
