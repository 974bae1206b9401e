"""Python-level fallbacks: a library function (``torchvision.ops.roi_align``, ``F.interpolate``)
wrapped through the lead's ``Rule``/``Patcher``, so revert restores the original by identity.

The wrapper calls the original unchanged unless a tensor argument is on the target device and
the row's condition holds; then the registry counts it (or raises under ``--strict``) and the
row's action runs.

The wrapper stays scriptable: ``torch.jit.script`` of code that calls it compiles the original
function (its source, its overloads, the names of its own module), since TorchScript cannot run
the wrapper's Python. Scripted code therefore runs the original op unchanged; the fallback applies
to eager calls only (docs/fallbacks.md).
"""
from __future__ import annotations

import functools
import types
from typing import Any

from npu_compat.fallbacks.registry import FallbackRegistry, FallbackRule, first_tensor, run_fallback
from npu_compat.patcher import Category, Context, Rule


def scriptable_wrapper(wrapper: types.FunctionType, original: Any) -> Any:
    """``wrapper`` as a function that TorchScript compiles as ``original``.

    TorchScript reads the source through ``__wrapped__`` (the original's) and resolves its free
    names from the function's globals and closure, so the wrapper gets the original's globals
    (``has_torch_function_unary`` for ``F.interpolate``) and a closure of one name that no library
    function uses; ``__qualname__`` and ``__module__`` find the original's ``@_overload`` signatures.
    A builtin original (``torch.matmul``) is kept scriptable by the patcher instead
    (``npu_compat.jit_builtins``).
    """
    if isinstance(original, types.FunctionType):
        wrapper = types.FunctionType(wrapper.__code__, original.__globals__, wrapper.__name__,
                                     wrapper.__defaults__, wrapper.__closure__)
    return functools.update_wrapper(wrapper, original)


def python_rules(row: FallbackRule, registry: FallbackRegistry) -> list[Rule]:
    """The patch rows that install ``row`` on ``row.owner.row.attr`` and on each alias."""
    if not row.owner or not row.attr:
        raise ValueError(f"fallback {row.op}: a python-level row needs owner and attr")

    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        hit, key, target_type, when = ctx.report.hit, rule.key, ctx.target.type, row.when
        old, new = f"{row.op} on {target_type}", row.action.value

        def _npu_compat_fallback(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            lead = first_tensor(args, kwargs)
            if lead is None or lead.device.type != target_type or (when is not None and not when(args, kwargs)):
                return original(*args, **kwargs)
            registry.fire(row)
            hit(key, "fallback", old, new, depth=3)
            return run_fallback(row, original, args, kwargs)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _npu_compat_fallback(args, kwargs)

        return scriptable_wrapper(wrapper, original)

    note = f"fallback ({row.action.value}) on {'/'.join(row.targets)}: {row.why}; cost: {row.cost}"
    rules = [Rule(f"fallback.{row.op}", row.owner, row.attr, make, Category.MODIFIED, note, lazy=True)]
    for alias in row.aliases:
        owner, _, attr = alias.partition(":")
        rules.append(Rule(f"fallback.{row.op}@{owner}", owner, attr or row.attr, make, Category.MODIFIED, note, lazy=True))
    return rules


__all__ = ["python_rules", "scriptable_wrapper"]
