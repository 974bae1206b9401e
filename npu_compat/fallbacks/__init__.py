"""Op fallbacks: declared rows, counted per op, reported with their first call site, strict-able.

``install_fallbacks(ctx, patcher)`` is called by ``npu_compat.shim.apply`` after the core rules.
Rows come from :data:`npu_compat.fallbacks.table.FALLBACK_TABLE`, from the ``--fallback-off``
filtered list, from ``NPU_COMPAT_CPU_FALLBACK_OPS`` (dispatcher level, npu), and from
``NPU_COMPAT_EXTRA_FALLBACKS=module:NAME`` (a sequence of ``FallbackRule``, e.g. a test's rows).
"""
from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Sequence

from npu_compat import npu
from npu_compat.errors import NpuCompatError
from npu_compat.fallbacks.dispatcher_level import dispatcher_rule, listed_ops
from npu_compat.fallbacks.python_level import python_rules
from npu_compat.fallbacks.registry import Action, FallbackRegistry, FallbackRule
from npu_compat.fallbacks.table import FALLBACK_TABLE
from npu_compat.npu_releases.limits import BY_NAME
from npu_compat.report import RuleStatus

if TYPE_CHECKING:
    from npu_compat.patcher import Context, Patcher, Rule

EXTRA_ENV = "NPU_COMPAT_EXTRA_FALLBACKS"


def extra_rows(spec: str | None = None) -> list[FallbackRule]:
    """Rows named by ``module:NAME`` (default ``$NPU_COMPAT_EXTRA_FALLBACKS``)."""
    text = os.environ.get(EXTRA_ENV, "") if spec is None else spec
    if not text:
        return []
    module, _, name = text.partition(":")
    try:
        rows = getattr(importlib.import_module(module), name or "FALLBACKS")
    except (ImportError, AttributeError) as exc:
        raise NpuCompatError(f"{EXTRA_ENV}={text} cannot be loaded: {exc}", "give module:NAME of a list of FallbackRule") from exc
    return list(rows)


def known_ops() -> set[str]:
    """Every op a ``--fallback-off`` (or ``fallback_off=``) may name: the declared table and the extra rows."""
    return {row.op for row in (*FALLBACK_TABLE, *extra_rows(), *listed_ops("npu"))}


def check_off_names(names: Sequence[str]) -> None:
    """Refuse a switched-off fallback that names no known op (a typo would otherwise do nothing)."""
    if not names:
        return
    known = known_ops()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NpuCompatError(f"--fallback-off names unknown op(s): {', '.join(unknown)}",
                             f"use one of {', '.join(sorted(known)) or '(none declared)'}")


def fallback_rules(ctx: "Context", registry: FallbackRegistry, rows: Sequence[FallbackRule] | None = None) -> list["Rule"]:
    """Patch rows for every fallback row that applies to the target and is not switched off."""
    if rows is None:
        rows = [*FALLBACK_TABLE, *listed_ops(ctx.target.type), *extra_rows()]
    off = set(ctx.options.fallback_off)
    release = npu.installed_torch_npu_version() if ctx.target.type == "npu" else None
    rules: list[Rule] = []
    for row in rows:
        if not row.applies_to(ctx.target.type):
            continue
        if row.op in off:
            ctx.report.rules.append(RuleStatus(f"fallback.{row.op}", "modified", "skipped", "--fallback-off", row.why))
            continue
        if row.limit and not BY_NAME[row.limit].holds_for(release):
            ctx.report.rules.append(RuleStatus(f"fallback.{row.op}", "modified", "skipped",
                                               f"torch_npu {release} has no documented limit {row.limit}", row.why))
            continue
        rules += [dispatcher_rule(row, registry)] if row.level == "dispatcher" else python_rules(row, registry)
    return rules


def install_fallbacks(ctx: "Context", patcher: "Patcher", rows: Sequence[FallbackRule] | None = None) -> FallbackRegistry:
    """Install the fallback rows into a session; the registry is also put on ``ctx.report.fallbacks``."""
    registry = FallbackRegistry.for_context(ctx)
    ctx.report.fallbacks = registry
    patcher.install(fallback_rules(ctx, registry, rows))
    return registry


__all__ = ["Action", "FallbackRule", "FallbackRegistry", "known_ops", "check_off_names", "fallback_rules", "install_fallbacks", "extra_rows", "EXTRA_ENV"]
