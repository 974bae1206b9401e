"""Find every public torch function that takes a ``device`` argument, from torch's own signatures.

Nothing here is a hand-kept list: a new torch release that adds a factory is covered without
edits. Python functions are read from their code objects; C builtins from the aten operator
schemas (``torch._C._jit_get_schemas_for_operator``) and, for builtins without an aten op of
that name (``asarray``), from the signature line of their docstring. The scan costs a few
milliseconds and is done once per process.
"""
from __future__ import annotations

import functools
import importlib
import re
import types
from dataclasses import dataclass
from typing import Any

import torch

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


def _builtin_has_device(obj: Any, aten_name: str) -> bool:
    for schema in torch._C._jit_get_schemas_for_operator(f"aten::{aten_name}"):
        if any(a.name == "device" for a in schema.arguments):
            return True
    doc = getattr(obj, "__doc__", None) or ""
    head = doc.lstrip().split("\n\n", 1)[0]
    return bool(_DOC_DEVICE.search(head))


def _scan(owner: str, namespace: Any, prefix: str, is_method: bool) -> list[DeviceParam]:
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
        elif _builtin_has_device(obj, prefix + name):
            found.append(DeviceParam(owner, name, None))
    return found


@functools.lru_cache(maxsize=None)
def find_device_params(torch_version: str = torch.__version__) -> tuple[DeviceParam, ...]:
    """Every public torch callable with a ``device`` argument (cached per torch version).

    Call it before any rule is installed: it reads the namespaces as they are.
    """
    found: list[DeviceParam] = []
    for owner, prefix in NAMESPACES:
        try:
            namespace = importlib.import_module(owner)
        except ImportError:
            continue
        found += _scan(owner, namespace, prefix, is_method=False)
    found += [p for p in _scan(TENSOR_OWNER, torch._C.TensorBase, "", is_method=True)]
    found += [p for p in _scan(TENSOR_OWNER, torch.Tensor, "", is_method=True) if p.name not in {q.name for q in found if q.owner == TENSOR_OWNER}]
    return tuple(found)
