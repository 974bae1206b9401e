"""Find every public torch function that takes a ``device`` argument, from torch's own signatures.

Nothing here is a hand-kept list: a new torch release that adds a factory is covered without
edits. Python functions are read from their code objects; C builtins from the aten operator
schemas (``torch._C._jit_get_schemas_for_operator``) and, for builtins without an aten op of
that name (``asarray``), from the signature line of their docstring. The scan is done once per
process. Its costly part, the aten schema lookups (about 1,300 builtins, most of ``apply()``'s
time), depends only on the torch build, so their answers are kept in a small JSON file per build
(``$NPU_COMPAT_CACHE_DIR``, default ``$XDG_CACHE_HOME/npu_compat`` or ``~/.cache/npu_compat``);
``NPU_COMPAT_CACHE_DIR=off`` keeps nothing. A missing, unreadable or unwritable file only means
the lookups run again.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from npu_compat.atomic_files import write_json_atomic

# Namespaces scanned, with the aten prefix their builtins carry (torch.fft.fftfreq is aten::fft_fftfreq).
NAMESPACES: tuple[tuple[str, str], ...] = (
    ("torch", ""),
    ("torch.fft", "fft_"),
    ("torch.linalg", "linalg_"),
    ("torch.special", "special_"),
    ("torch.sparse", "sparse_"),
    ("torch.nested", "nested_"),
)
# Methods of tensors that take ``device`` (Tensor.new_*); the device-named methods have their own rows.
TENSOR_OWNER = "torch.Tensor"
# Functions with a device argument that have their own rows, or where "device" means something else.
OWN_ROWS: frozenset[str] = frozenset({
    "torch.set_default_device", "torch.get_device_module", "torch.load",
    "torch.Tensor.to", "torch.Tensor.cuda", "torch.Tensor.xpu", "torch.Tensor.mtia", "torch.Tensor.ipu",
    "torch.Tensor.pin_memory", "torch.Tensor.is_pinned",
})
_DOC_DEVICE = re.compile(r"\bdevice\s*[:=]")
CACHE_ENV = "NPU_COMPAT_CACHE_DIR"
_CACHE_FORMAT = 1  # bump when what a cached answer means changes


@dataclass(frozen=True)
class DeviceParam:
    """One callable with a ``device`` argument: where it lives, and where the argument may sit."""

    owner: str
    name: str
    position: int | None  # positional index (after self for methods), or None for keyword-only

    @property
    def path(self) -> str:
        return f"{self.owner}.{self.name}"


def _python_position(code: types.CodeType, is_method: bool) -> int | None | bool:
    """Index of ``device`` among positional parameters, None if keyword-only, False if absent."""
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    if "device" not in names:
        return False
    i = names.index("device")
    if i >= code.co_argcount:
        return None
    return i - 1 if is_method else i


def _schema_has_device(aten_name: str, known: dict[str, bool]) -> bool:
    """Whether an overload of ``aten::<aten_name>`` takes ``device``; ``known`` holds earlier answers."""
    found = known.get(aten_name)
    if found is None:
        found = known[aten_name] = any(a.name == "device" for schema in torch._C._jit_get_schemas_for_operator(f"aten::{aten_name}")
                                       for a in schema.arguments)
    return found


def _builtin_has_device(obj: Any, aten_name: str, known: dict[str, bool]) -> bool:
    if _schema_has_device(aten_name, known):
        return True
    doc = getattr(obj, "__doc__", None) or ""
    head = doc.lstrip().split("\n\n", 1)[0]
    return bool(_DOC_DEVICE.search(head))


def _scan(owner: str, namespace: Any, prefix: str, is_method: bool, known: dict[str, bool]) -> list[DeviceParam]:
    found: list[DeviceParam] = []
    for name, obj in list(vars(namespace).items()):
        if name.startswith("_") or isinstance(obj, (type, types.ModuleType)) or not callable(obj):
            continue
        if f"{owner}.{name}" in OWN_ROWS:
            continue
        code = getattr(obj, "__code__", None)
        if code is not None:
            where = _python_position(code, is_method)
            if where is not False:
                found.append(DeviceParam(owner, name, where))  # type: ignore[arg-type]
        elif _builtin_has_device(obj, prefix + name, known):
            found.append(DeviceParam(owner, name, None))
    return found


def _torch_build() -> str:
    """What the aten schemas depend on: torch's version, commit and the very file of its C extension."""
    lib = Path(torch._C.__file__)
    st = lib.stat()
    return f"{_CACHE_FORMAT}|{torch.__version__}|{torch.version.git_version}|{lib}|{st.st_size}|{st.st_mtime_ns}"


def schema_cache_path(environ: dict[str, str] | None = None) -> Path | None:
    """The file of cached schema answers for this torch build, or None when caching is off."""
    env = os.environ if environ is None else environ
    folder = env.get(CACHE_ENV)
    if folder == "off":
        return None
    root = Path(folder) if folder else Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "npu_compat"
    return root / f"device-params-{hashlib.sha256(_torch_build().encode()).hexdigest()[:16]}.json"


def _read_known(path: Path | None) -> dict[str, bool]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    known = data.get("schemas") if isinstance(data, dict) and data.get("build") == _torch_build() else None
    if not isinstance(known, dict):
        return {}
    return {k: v for k, v in known.items() if isinstance(k, str) and isinstance(v, bool)}


@functools.lru_cache(maxsize=None)
def find_device_params(torch_version: str = torch.__version__) -> tuple[DeviceParam, ...]:
    """Every public torch callable with a ``device`` argument (cached per torch version).

    Call it before any rule is installed: it reads the namespaces as they are.
    """
    path = schema_cache_path()
    known = _read_known(path)
    before = len(known)
    found: list[DeviceParam] = []
    for owner, prefix in NAMESPACES:
        try:
            namespace = importlib.import_module(owner)
        except ImportError:
            continue
        found += _scan(owner, namespace, prefix, False, known)
    found += [p for p in _scan(TENSOR_OWNER, torch._C.TensorBase, "", True, known)]
    found += [p for p in _scan(TENSOR_OWNER, torch.Tensor, "", True, known) if p.name not in {q.name for q in found if q.owner == TENSOR_OWNER}]
    if path is not None and len(known) > before:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, {"build": _torch_build(), "schemas": dict(sorted(known.items()))}, indent=None)
        except OSError:
            pass  # a read-only home: the lookups simply run again next time
    return tuple(found)
