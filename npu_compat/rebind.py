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

A rule may replace with an object that exists anyway (``torch.cuda.BFloat16Storage`` ->
``torch.BFloat16Storage``): names bound to such an object before the shim and while it was on
cannot be told apart, so they are left alone. Such an object is one the kit did not make that
is found at its own ``__module__`` and ``__qualname__``.
"""
from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Any, Callable, Iterable

MISSING: Any = object()
_KIT = "npu_compat"
_KIT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def made_by_kit(obj: Any) -> bool:
    """A function, class, module or object the kit created (not one torch or a library has)."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__.partition(".")[0] == _KIT
    obj = getattr(obj, "__func__", obj)  # staticmethod / classmethod
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        return os.path.abspath(code.co_filename).startswith(_KIT_DIR)
    module = obj.__module__ if isinstance(obj, type) else type(obj).__module__
    return str(module).partition(".")[0] == _KIT


def at_home(obj: Any) -> bool:
    """Found at its own ``__module__`` and ``__qualname__``: it existed before any session made it."""
    home = sys.modules.get(str(getattr(obj, "__module__", "")))
    for part in str(getattr(obj, "__qualname__", "")).split("."):
        home = getattr(home, part, None) if home is not None else None
    return home is obj


def existing_object(obj: Any) -> bool:
    """An object that lives on its own outside the shim (so names bound to it are not leftovers)."""
    return not made_by_kit(obj) and at_home(obj)


def _swapped_module_map(name: str, replacement: types.ModuleType, raw: Any) -> dict[int, Callable[[], Any]]:
    """Lookups for a ``sys.modules`` swap: the module and each object defined in it."""
    def upstream() -> Any:
        return raw if raw is not MISSING else importlib.import_module(name)

    found: dict[int, Callable[[], Any]] = {id(replacement): upstream}
    for attr, value in vars(replacement).items():
        if getattr(value, "__module__", None) == replacement.__name__:
            found[id(value)] = lambda attr=attr: getattr(upstream(), attr, MISSING)
    return found


def rebind_leftovers(installed: Iterable[tuple[Any, str, bool, Any, Any]],
                     loaded_before: frozenset[str] = frozenset()) -> list[str]:
    """Rebind names still pointing at replacements; returns ``module.name`` left unrestored.

    ``installed`` holds ``(owner, attr, had, raw, replacement)`` for every undone patch.
    In modules named in ``loaded_before`` (imported before the shim was applied, ``__main__``
    included) only names bound to objects the session made are restored: an object that lives in
    a kit module was bound there on purpose (``from npu_compat.sam3.kernels... import``).
    """
    lookup: dict[int, Callable[[], Any]] = {}
    fresh: set[int] = set()  # objects the session made (no module could bind them before apply)
    keep: list[Any] = []  # keeps the replacements alive, so their ids stay unique during the scan
    for owner, attr, had, raw, new in installed:
        if existing_object(new):
            continue
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
        for made in (new, inner):
            if made is not None and not at_home(made):
                fresh.add(id(made))
    if not lookup:
        return []
    left: list[str] = []
    for mod_name, module in list(sys.modules.items()):
        if mod_name.partition(".")[0] == "npu_compat":  # the kit's own modules hold replacements on purpose
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        # a module loaded before apply() (``__main__`` too) can only have bound the session's own fresh objects
        # while it was on (``apply(); from torch import zeros``); a kit object there was bound on purpose
        wanted = fresh if mod_name in loaded_before else lookup
        hits = [(k, v) for k, v in list(namespace.items()) if id(v) in wanted]
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
