"""A post-import hook: run callbacks right after a watched module finishes executing.

Kept free of torch imports, so the ``.pth`` hook can arm it before torch is imported.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
from typing import Any, Callable


class PostImportHook(importlib.abc.MetaPathFinder):
    """Runs callbacks right after watched modules finish executing."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list[Callable[[], None]]] = {}
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.callbacks or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, callbacks = spec.loader, self.callbacks

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                loader.exec_module(module)
                module.__spec__.loader = loader
                module.__loader__ = loader
                for callback in callbacks.pop(fullname, []):
                    callback()

        spec.loader = _Loader()
        return spec
