"""Python-level fallbacks: a library function (``torchvision.ops.roi_align``, ``F.interpolate``)
wrapped through the lead's ``Rule``/``Patcher``, so revert restores the original by identity.

The wrapper calls the original unchanged unless a tensor argument is on the target device and
the row's condition holds; then the registry counts it (or raises under ``--strict``) and the
row's action runs.
"""
from __future__ import annotations

import functools
from typing import Any

from npu_compat.fallbacks.registry import FallbackRegistry, FallbackRule, first_tensor, run_fallback
from npu_compat.patcher import Category, Context, Rule


def python_rules(row: FallbackRule, registry: FallbackRegistry) -> list[Rule]:
    """The patch rows that install ``row`` on ``row.owner.row.attr`` and on each alias."""
    if not row.owner or not row.attr:
        raise ValueError(f"fallback {row.op}: a python-level row needs owner and attr")

    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        hit, key, target_type, when = ctx.report.hit, rule.key, ctx.target.type, row.when
        old, new = f"{row.op} on {target_type}", row.action.value

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            lead = first_tensor(args, kwargs)
            if lead is None or lead.device.type != target_type or (when is not None and not when(args, kwargs)):
                return original(*args, **kwargs)
            registry.fire(row)
            hit(key, "fallback", old, new)
            return run_fallback(row, original, args, kwargs)

        return wrapper

    note = f"fallback ({row.action.value}) on {'/'.join(row.targets)}: {row.why}; cost: {row.cost}"
    rules = [Rule(f"fallback.{row.op}", row.owner, row.attr, make, Category.MODIFIED, note, lazy=True)]
    for alias in row.aliases:
        owner, _, attr = alias.partition(":")
        rules.append(Rule(f"fallback.{row.op}@{owner}", owner, attr or row.attr, make, Category.MODIFIED, note, lazy=True))
    return rules


__all__ = ["python_rules"]
