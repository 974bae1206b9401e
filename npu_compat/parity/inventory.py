"""An op inventory: distinct (op, argument signature) entries with call counts, as JSON.

Two calls share an entry when the op overload and every argument match, tensors compared by
shape, dtype, strides, offset and storage size (not by values). Value ranges seen across the
calls of an entry are widened to cover all of them, so replay regenerates realistic inputs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npu_compat.atomic_files import write_text_atomic
from npu_compat.parity import ParityError
from npu_compat.parity.argspec import iter_tensor_specs, merge_ranges, strip_ranges

FORMAT = "npu_compat/parity-inventory@1"


def op_base(op: str) -> str:
    """``aten.convolution.default`` -> ``convolution``; ``aten.add_.Tensor`` -> ``add_``."""
    parts = op.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def op_overload(op: str) -> str:
    """``aten.add.Tensor`` -> ``add.Tensor``; ``aten.relu.default`` -> ``relu``."""
    parts = op.split(".")
    if len(parts) < 3 or parts[2] == "default":
        return parts[1] if len(parts) > 1 else parts[0]
    return f"{parts[1]}.{parts[2]}"


@dataclass
class InventoryEntry:
    op: str
    args: list[Any]
    kwargs: dict[str, Any]
    count: int = 0
    runs: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return op_base(self.op)

    @property
    def dtypes(self) -> list[str]:
        seen: list[str] = []
        for spec in iter_tensor_specs([self.args, self.kwargs]):
            if spec["dtype"] not in seen:
                seen.append(spec["dtype"])
        return seen

    def signature(self) -> str:
        return signature_of(self.op, self.args, self.kwargs)

    def short_args(self) -> str:
        """A compact human-readable argument summary for reports."""
        parts = []
        for spec in self.args:
            parts.append(_short(spec))
        parts += [f"{key}={_short(value)}" for key, value in self.kwargs.items()]
        text = ", ".join(parts)
        return text if len(text) <= 120 else text[:117] + "..."

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "count": self.count, "runs": self.runs,
                "args": self.args, "kwargs": self.kwargs}


def _short(spec: Any) -> str:
    if isinstance(spec, dict) and spec.get("t") == "tensor":
        return f"{spec['dtype']}{list(spec['shape'])}"
    if isinstance(spec, dict) and "v" in spec:
        return str(spec["v"])
    if isinstance(spec, list):
        return "[" + ", ".join(_short(item) for item in spec) + "]"
    return repr(spec)


def signature_of(op: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    return json.dumps([op, strip_ranges(args), strip_ranges(kwargs)], sort_keys=True)


@dataclass
class Inventory:
    """Deduplicated op calls, in order of first appearance."""

    entries: dict[str, InventoryEntry] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def note_run(self, label: str) -> None:
        if label not in self.runs:
            self.runs.append(label)

    def add(self, op: str, args: list[Any], kwargs: dict[str, Any], run: str = "run", count: int = 1) -> None:
        key = signature_of(op, args, kwargs)
        entry = self.entries.get(key)
        if entry is None:
            self.entries[key] = InventoryEntry(op, args, kwargs, count, [run])
            return
        entry.count += count
        if run not in entry.runs:
            entry.runs.append(run)
        merge_ranges(entry.args, args)
        merge_ranges(entry.kwargs, kwargs)

    def merge(self, other: "Inventory") -> None:
        for run in other.runs:
            self.note_run(run)
        for entry in other.entries.values():
            for run in entry.runs:
                self.add(entry.op, entry.args, entry.kwargs, run=run, count=0)
            self.entries[entry.signature()].count += entry.count

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries.values())

    def op_counts(self) -> dict[str, int]:
        """Calls per op overload, most called first."""
        counts: dict[str, int] = {}
        for entry in self:
            counts[entry.op] = counts.get(entry.op, 0) + entry.count
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def ops(self) -> set[str]:
        return {entry.op for entry in self}

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "meta": self.meta, "runs": self.runs,
                "distinct_ops": len(self.ops()), "entries": [e.as_dict() for e in self]}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Compact JSON, one entry per line, so a committed inventory diffs line by line."""
        data = self.as_dict()
        entries = data.pop("entries")
        head = json.dumps(data, separators=(",", ":"))[:-1]
        body = ",\n".join(json.dumps(entry, separators=(",", ":")) for entry in entries)
        return write_text_atomic(path, f'{head},"entries":[\n{body}\n]}}\n')

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Inventory":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ParityError(f"inventory {path} not found; create one with "
                              f"`python -m npu_compat.parity capture --out {path}`") from None
        except json.JSONDecodeError as err:
            raise ParityError(f"inventory {path} is not valid JSON ({err}); capture it again") from None
        if data.get("format") != FORMAT:
            raise ParityError(f"{path} is not a parity inventory (format {data.get('format')!r}, "
                              f"expected {FORMAT!r})")
        inventory = cls(runs=list(data.get("runs", [])), meta=dict(data.get("meta", {})))
        for item in data["entries"]:
            entry = InventoryEntry(item["op"], item["args"], item["kwargs"], int(item["count"]),
                                   list(item.get("runs", [])))
            inventory.entries[entry.signature()] = entry
        return inventory


