"""Keep replacements of TorchScript builtins scriptable.

TorchScript compiles a call to ``torch.as_tensor`` (or any torch function it knows) by looking
the function object up in its builtin table by identity. A Python wrapper installed in its place
is not in that table, so scripting any code that calls it fails ("module, class, method,
function ... expected, got builtin_function_or_method"), e.g. torchvision transforms scripted by
sam3's ``SAM2Transforms``. The patcher therefore registers each replacement as the same builtin
as its original, and removes that entry on revert.

Scripted code then calls the aten op itself: the shim's redirect does not reach inside a
TorchScript graph (docs/shim.md says so).
"""
from __future__ import annotations

import sys as _sys
from typing import Any


def _table() -> dict[int, str] | None:
    """TorchScript's builtin table if it is built already (building it costs tens of ms)."""
    _builtins = _sys.modules.get("torch.jit._builtins")
    return getattr(_builtins, "_builtin_table", None) if _builtins is not None else None


def alias_builtin(original: Any, replacement: Any) -> None:
    """Give ``replacement`` the builtin op of ``original``.

    If the table is not built yet, TorchScript builds it later from ``dir(torch)``, where it
    finds the replacement itself, so nothing is needed now.
    """
    table = _table()
    if table is not None and original is not None:
        op = table.get(id(original))
        if op is not None:
            table.setdefault(id(replacement), op)


def restore_builtin(original: Any, replacement: Any) -> None:
    """On revert: drop the replacement's entry, and make sure the original has one.

    (A table built while the shim was on holds the replacement instead of the original.)
    """
    table = _table()
    if table is None:
        return
    op = table.pop(id(replacement), None)
    if op is not None and original is not None:
        table.setdefault(id(original), op)


__all__ = ["alias_builtin", "restore_builtin"]
