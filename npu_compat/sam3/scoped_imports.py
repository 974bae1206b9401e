"""Module-level imports of sam3 main that fail in a fresh venv, answered for sam3's own modules only.

sam3's GitHub main (after the 0.1.4 wheel) does, at module level:

- ``import pkg_resources`` in ``sam3/model_builder.py``, to find the BPE vocabulary it ships in
  ``sam3/assets/``; the setuptools pip installs today no longer has ``pkg_resources``;
- ``from decord import cpu, VideoReader`` in ``sam3/train/data/sam3_image_dataset.py``, which
  ``import sam3`` reaches through the tracker; decord is only needed to read mp4 training frames.

Each row below names the missing module, the sam3 modules allowed to receive a stand-in, and
the stand-in. :data:`RULES` wraps ``builtins.__import__``: an import of a row's module from one
of its sam3 modules, when the real module cannot be imported, gets the stand-in object; every
other import (and every import once the real module is installed) goes to the original
``__import__`` unchanged. Nothing is put in ``sys.modules``: no other code sees a fake
``pkg_resources`` or ``decord``. Nothing happens at import time of this file.
"""
from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import types
from dataclasses import dataclass
from typing import Any, Callable

from npu_compat.patcher import Category, Context, Rule


def _pkg_resources_standin() -> types.ModuleType:
    """The one ``pkg_resources`` function sam3 main calls, on ``importlib.resources``."""
    module = types.ModuleType("pkg_resources", "npu_compat stand-in for sam3 main: resource_filename only")

    def resource_filename(package: str, resource: str) -> str:
        return str(importlib.resources.files(package).joinpath(resource))

    module.resource_filename = resource_filename  # type: ignore[attr-defined]
    return module


def _decord_standin() -> types.ModuleType:
    """Names sam3 imports from decord; using one raises the install hint (reading mp4 training frames)."""
    module = types.ModuleType("decord", "npu_compat stand-in for sam3 main: raises on use")

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise ImportError("decord is not installed: sam3 needs it to read mp4 training frames; pip install decord")

    module.cpu = missing  # type: ignore[attr-defined]
    module.VideoReader = missing  # type: ignore[attr-defined]
    return module


@dataclass(frozen=True)
class ScopedImport:
    """One row: `module` imported from one of `importers` gets `standin()` when the real one is absent."""

    module: str
    importers: tuple[str, ...]
    standin: Callable[[], types.ModuleType]


SCOPED_IMPORTS: tuple[ScopedImport, ...] = (
    ScopedImport("pkg_resources", ("sam3.model_builder",), _pkg_resources_standin),
    ScopedImport("decord", ("sam3.train.data.sam3_image_dataset",), _decord_standin),
)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _scoped_import(ctx: Context, rule: Rule, original: Any) -> Any:
    rows = {row.module: row for row in SCOPED_IMPORTS}
    standins: dict[str, types.ModuleType] = {}
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def __import__(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        row = rows.get(name) if level == 0 else None
        if row is not None and globals is not None and globals.get("__name__") in row.importers \
                and not _importable(name):
            if name not in standins:
                standins[name] = row.standin()
                hit(key, cat, f"{globals['__name__']}: import {name}", "stand-in (module not installed)")
            return standins[name]
        return original(name, globals, locals, fromlist, level)

    return __import__


RULES: tuple[Rule, ...] = (
    Rule("sam3.scoped_imports", "builtins", "__import__", _scoped_import, Category.MODIFIED,
         "sam3 main's module-level `import pkg_resources` (gone from current setuptools) and "
         "`from decord import ...` get stand-ins for those sam3 modules only, when the real module is absent",
         unchecked="builtins.__import__ is a C builtin with no readable signature; the wrapper takes its five documented "
         "parameters"),
)
"""Rule rows for the shim (not lazy: they must be in place before sam3 imports)."""
