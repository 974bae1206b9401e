"""An import hook: run callbacks right after a watched module finishes executing, or right before.

``callbacks[name]`` run once the module's code has run (patch what it defined); ``before[name]``
get the new module object before its code runs (what its own top-level code must see), with its
namespace as ``exec`` gives it (``__builtins__`` set). Kept free of torch imports, so the ``.pth``
hook can arm it before torch is imported.
"""
from __future__ import annotations

import builtins
import importlib.abc
import importlib.util
from typing import Any, Callable


class PostImportHook(importlib.abc.MetaPathFinder):
    """Runs callbacks right after (or right before) watched modules execute."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list[Callable[[], None]]] = {}
        self.before: dict[str, list[Callable[[], None]]] = {}
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if (fullname not in self.callbacks and fullname not in self.before) or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, callbacks, before = spec.loader, self.callbacks, self.before

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                module.__dict__.setdefault("__builtins__", builtins.__dict__)  # as exec would set it
                for callback in before.pop(fullname, []):
                    callback()  # the module is in sys.modules already, its code not yet run
                loader.exec_module(module)
                module.__spec__.loader = loader
                module.__loader__ = loader
                for callback in callbacks.pop(fullname, []):
                    callback()

        spec.loader = _Loader()
        return spec
