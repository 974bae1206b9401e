"""msprobe dumps: write one with msprobe's own ``PrecisionDebugger``, read one from anywhere.

A dump is msprobe's layout: ``DUMP/step<N>/proc<pid>|rank<N>/`` holding ``dump.json`` (every
module and API call, with its inputs and outputs), ``stack.json`` (call sites), ``construct.json``
(which module each call ran in) and ``dump_tensor_data/*.pt``. A dump taken by msprobe on an
Ascend machine and one written here by :func:`dumping` are the same kind of thing, so either side
of a comparison may come from either place.

msprobe (PyPI ``mindstudio-probe``) is an optional extra: ``pip install 'npu-compat[msprobe]'``.
Its debugger is one object per process that hooks torch for good, so the kit runs each dumping
side in a process of its own (:mod:`npu_compat.parity.msprobe_run`).
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from npu_compat.parity import ParityError

INSTALL_HINT = "pip install 'npu-compat[msprobe]' (PyPI mindstudio-probe; the PyPI package 'msprobe' is another one)"
_TORCH_FRAMES = ("/torch/", "/msprobe/", "/contextlib.py")


def require_msprobe() -> None:
    """One-line error when msprobe is not importable."""
    if importlib.util.find_spec("msprobe") is None or importlib.util.find_spec("msprobe.pytorch") is None:
        raise ParityError(f"msprobe is not installed: {INSTALL_HINT}")


@contextlib.contextmanager
def dumping(dump_path: str | Path, model: torch.nn.Module) -> Iterator[None]:
    """Dump every module and API call of ``model`` run in this block, with msprobe's debugger.

    ``task="tensor", level="mix"``: tensors and statistics of modules and of torch API calls.
    The dump lands in ``dump_path/step0/proc<pid>/``.
    """
    require_msprobe()
    from msprobe.pytorch import PrecisionDebugger  # an optional extra: imported only when a dump is asked for

    debugger = PrecisionDebugger(task="tensor", dump_path=str(dump_path), level="mix")
    debugger.start(model=model)
    try:
        yield
    finally:
        debugger.stop()
        debugger.step()


def find_dump_dir(path: str | Path) -> Path:
    """The folder holding ``dump.json``: ``path`` itself, or its only ``step*/proc*|rank*`` below."""
    root = Path(path)
    if (root / "dump.json").is_file():
        return root
    if not root.is_dir():
        raise ParityError(f"msprobe dump {root} does not exist; pass the folder msprobe wrote (with step0/...)")
    found = sorted(p.parent for p in root.glob("dump.json")) or sorted(
        p.parent for pattern in ("*/dump.json", "*/*/dump.json") for p in root.glob(pattern)
        if p.parent.name.startswith(("proc", "rank")))
    if not found:
        raise ParityError(f"no msprobe dump.json under {root}; expected step*/proc*|rank*/dump.json")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(root)) for p in found[:4])
        raise ParityError(f"{root} holds {len(found)} msprobe dumps ({names}...); pass one of them")
    return found[0]


@dataclass
class ApiCall:
    """One API call of a dump (``Functional.layer_norm.0.forward``), in call order."""
    name: str
    inputs: list[dict[str, Any]]      # the tensor entries of its inputs (args, kwargs, flattened)
    outputs: list[dict[str, Any]]     # the tensor entries of its outputs
    module: str | None = None         # the module it ran in (from construct.json)
    call_site: str = ""               # the first frame outside torch and msprobe (from stack.json)

    @property
    def api(self) -> str:
        """``Functional.layer_norm`` from ``Functional.layer_norm.0.forward``."""
        parts = self.name.split(".")
        return ".".join(parts[:-2]) if len(parts) > 2 else self.name


@dataclass
class MsprobeDump:
    directory: Path
    data: dict[str, Any]
    stacks: dict[str, list[str]] = field(default_factory=dict)
    construct: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "MsprobeDump":
        directory = find_dump_dir(path)
        try:
            dump = json.loads((directory / "dump.json").read_text())
            stacks = _read_optional(directory / "stack.json")
            construct = _read_optional(directory / "construct.json")
        except (OSError, json.JSONDecodeError) as err:
            raise ParityError(f"cannot read the msprobe dump in {directory}: {err}") from None
        if dump.get("task") != "tensor":
            raise ParityError(f"msprobe dump {directory} is task {dump.get('task')!r}; the kit compares "
                              "tensor dumps (PrecisionDebugger(task='tensor'))")
        by_name: dict[str, list[str]] = {}
        for names, frames in (stacks.values() if isinstance(stacks, dict) else ()):
            for name in names:
                by_name[name] = frames
        return cls(directory, dump.get("data", {}), by_name, construct if isinstance(construct, dict) else {})

    def api_calls(self) -> list[ApiCall]:
        """Every non-module call with a tensor output, in the order msprobe recorded them."""
        calls = []
        for name, entry in self.data.items():
            if name.startswith("Module.") or not name.endswith(".forward"):
                continue
            outputs = _tensors(entry.get("output"))
            if not outputs:
                continue
            inputs = _tensors(entry.get("input_args")) + _tensors(entry.get("input_kwargs"))
            calls.append(ApiCall(name, inputs, outputs, self.construct.get(name), self.call_site(name)))
        return calls

    def call_site(self, name: str) -> str:
        """The innermost frame outside torch and msprobe (the model's line that made the call), else
        the innermost frame (msprobe leaves out frames of code without a file, such as ``python -c``)."""
        frames = self.stacks.get(name, [])
        outside = [frame for frame in frames if not any(part in frame for part in _TORCH_FRAMES)]
        chosen = (outside or frames or [""])[0]
        return " ".join(chosen.replace(", \n", " |").split())

    def tensor(self, entry: dict[str, Any]) -> torch.Tensor:
        path = self.directory / "dump_tensor_data" / entry["data_name"]
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as err:
            raise ParityError(f"cannot read {path}: {' '.join(str(err).split())[:200]}") from None


def _read_optional(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else {}


def _tensors(value: Any) -> list[dict[str, Any]]:
    """The tensor entries (with ``data_name``) in a dump.json value, depth first."""
    if isinstance(value, dict):
        if "data_name" in value and str(value.get("type", "")).endswith("Tensor"):
            return [value]
        return [t for item in value.values() for t in _tensors(item)]
    if isinstance(value, list):
        return [t for item in value for t in _tensors(item)]
    return []
