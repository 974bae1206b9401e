"""Module-level imports of sam3 main that fail in a fresh venv, answered for sam3's own modules only.

sam3's GitHub main (after the 0.1.4 wheel) does, at module level:

- ``import pkg_resources`` in ``sam3/model_builder.py``, to find the BPE vocabulary it ships in
  ``sam3/assets/``; the setuptools pip installs today no longer has ``pkg_resources``;
- ``from decord import cpu, VideoReader`` in ``sam3/train/data/sam3_image_dataset.py``, which
  ``import sam3`` reaches through the tracker; decord is only needed to read mp4 training frames.

Each row below names the missing module, the sam3 modules allowed to receive a stand-in, and
the stand-in. :data:`RULES` gives each of those sam3 modules its own builtins namespace, set
before its code runs (``Rule.before_exec``), whose ``__import__`` answers an import of a row's
module, when the real module cannot be imported, with the stand-in object; every other import
(and every import once the real module is installed) goes to the original ``__import__``
unchanged. ``builtins.__import__`` itself is left alone, so an ImportError anywhere else shows
no frame of the kit. Nothing is put in ``sys.modules``: no other code sees a fake
``pkg_resources`` or ``decord``. Nothing happens at import time of this file.
"""
from __future__ import annotations

import builtins
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


class ModuleBuiltins(dict):
    """One module's builtins namespace: its own ``__import__``; every other name is read from the
    ``builtins`` module at each use (a name patched there later is seen too)."""

    def __missing__(self, key: str) -> Any:
        return builtins.__dict__[key]  # KeyError: the NameError a missing builtin gives anyway


def _scoped_import(importer: str, original: Any, report: Any, key: str, category: str) -> Any:
    """The ``__import__`` of module ``importer``: a row's module it may not import gets the stand-in."""
    rows = {row.module: row for row in SCOPED_IMPORTS if importer in row.importers}
    standins: dict[str, types.ModuleType] = {}

    @functools.wraps(original)
    def __import__(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        row = rows.get(name) if level == 0 else None
        if row is not None and not _importable(name):
            if name not in standins:
                standins[name] = row.standin()
                report.hit(key, category, f"{importer}: import {name}", "stand-in (module not installed)")
            return standins[name]
        return original(name, globals, locals, fromlist, level)

    return __import__


def _module_builtins(ctx: Context, rule: Rule, original: Any) -> Any:
    """The builtins namespace of the rule's module, with its scoped ``__import__``."""
    scoped = ModuleBuiltins()
    scoped["__import__"] = _scoped_import(rule.owner, builtins.__import__, ctx.report, rule.key, rule.category.value)
    return scoped


RULES: tuple[Rule, ...] = tuple(
    Rule(f"sam3.scoped_imports.{importer}", importer, "__builtins__", _module_builtins, Category.MODIFIED,
         "sam3 main's module-level `import pkg_resources` (gone from current setuptools) and "
         "`from decord import ...` get stand-ins in that sam3 module only, when the real module is absent",
         before_exec=True, unchecked="a module's builtins namespace (a dict), not a callable")
    for importer in dict.fromkeys(i for row in SCOPED_IMPORTS for i in row.importers)
)
"""Rule rows for the shim: one per sam3 module that gets a stand-in, patched before its code runs."""
