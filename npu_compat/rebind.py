"""After revert: module-level names that were bound to a replacement while the shim was on.

``from sam3.model_builder import build_sam3_image_model`` run under the shim binds the
wrapper in ``sam3``'s namespace; restoring ``sam3.model_builder`` alone leaves that copy.
:func:`rebind_leftovers` scans every loaded module's namespace and puts back what a fresh
import would have bound:

- a name bound to a replaced object gets the original back (or is removed when the rule
  created the attribute);
- a name bound to a module swapped into ``sys.modules`` (or to something defined in it)
  gets the upstream module (or its attribute of the same name), imported now, as a fresh
  import would. If upstream cannot be imported, the name is left and reported.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any, Callable, Iterable

MISSING: Any = object()


def _swapped_module_map(name: str, replacement: types.ModuleType, raw: Any) -> dict[int, Callable[[], Any]]:
    """Lookups for a ``sys.modules`` swap: the module and each object defined in it."""
    def upstream() -> Any:
        return raw if raw is not MISSING else importlib.import_module(name)

    found: dict[int, Callable[[], Any]] = {id(replacement): upstream}
    for attr, value in vars(replacement).items():
        if getattr(value, "__module__", None) == replacement.__name__:
            found[id(value)] = lambda attr=attr: getattr(upstream(), attr, MISSING)
    return found


def rebind_leftovers(installed: Iterable[tuple[Any, str, bool, Any, Any]]) -> list[str]:
    """Rebind names still pointing at replacements; returns ``module.name`` left unrestored.

    ``installed`` holds ``(owner, attr, had, raw, replacement)`` for every undone patch.
    """
    lookup: dict[int, Callable[[], Any]] = {}
    keep: list[Any] = []  # keeps the replacements alive, so their ids stay unique during the scan
    for owner, attr, had, raw, new in installed:
        keep.append(new)
        if owner is sys.modules:
            if isinstance(new, types.ModuleType):
                lookup.update(_swapped_module_map(attr, new, raw if had else MISSING))
            continue
        original = getattr(owner, attr, MISSING) if had else MISSING  # as the patcher restored it
        lookup[id(new)] = lambda original=original: original
        inner = getattr(new, "__func__", None)  # staticmethod / classmethod rows
        if inner is not None:
            keep.append(inner)
            lookup[id(inner)] = lambda original=original: original
    if not lookup:
        return []
    left: list[str] = []
    for mod_name, module in list(sys.modules.items()):
        if mod_name.partition(".")[0] == "npu_compat":  # the kit's own modules hold replacements on purpose
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        hits = [(k, v) for k, v in list(namespace.items()) if id(v) in lookup]
        for key, value in hits:
            if namespace.get(key) is not value:
                continue
            try:
                original = lookup[id(value)]()
            except ImportError:
                left.append(f"{mod_name}.{key}")
                continue
            if original is MISSING:
                del namespace[key]
            else:
                namespace[key] = original
    del keep
    return left
