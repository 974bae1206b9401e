"""Dispatcher-level fallbacks: ``torch.library`` impls on the target's dispatch key for aten ops
that have no kernel there (``PrivateUse1`` for npu).

Each impl lives in its own ``torch.library.Library`` object, held as a module attribute that the
lead's ``Patcher`` installs (``install_missing``) and deletes on revert; torch deregisters a
``Library``'s impls when the object is collected, so revert removes the kernel again.

Which ops: rows of the table that name ``aten``, plus, on npu, the ops named by
``NPU_COMPAT_CPU_FALLBACK_OPS`` (comma-separated ``aten::name.overload``) that the parity
issue's kernel list (``npu_compat/data/npu_kernels/``, via ``npu_compat.npu_releases.kernels``)
says torch_npu has no kernel for, when that data is importable.
"""
from __future__ import annotations

import os
from typing import Any

import torch

from npu_compat.fallbacks.registry import Action, FallbackRegistry, FallbackRule, run_fallback, user_depth
from npu_compat.patcher import MISSING, Category, Context, Rule

DISPATCH_KEYS = {"npu": "PrivateUse1", "cuda": "CUDA", "xpu": "XPU", "mps": "MPS", "cpu": "CPU"}
OPS_ENV = "NPU_COMPAT_CPU_FALLBACK_OPS"
HOLDER = "npu_compat.fallbacks.dispatcher_level"


def _attr_name(op: str) -> str:
    return "_library_" + "".join(ch if ch.isalnum() else "_" for ch in op)


def canonical(aten: str) -> str:
    """``aten::relu.default`` -> ``aten::relu``: the spelling of torch_npu's kernel lists and of
    ``torch.library`` (which refuses ``default`` as an overload name); other overloads stay."""
    name = aten if "::" in aten else f"aten::{aten}"
    return name[: -len(".default")] if name.endswith(".default") else name


def _resolve(aten: str) -> Any:
    namespace, _, rest = aten.partition("::")
    name, _, overload = rest.partition(".")
    packet = getattr(getattr(torch.ops, namespace), name)
    return getattr(packet, overload or "default")


def dispatcher_rule(row: FallbackRule, registry: FallbackRegistry) -> Rule:
    """The patch row that registers ``row`` as a kernel on the target's dispatch key."""
    if not row.aten:
        raise ValueError(f"fallback {row.op}: a dispatcher-level row needs aten")

    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        key = DISPATCH_KEYS.get(ctx.target.type)
        if key is None:
            return MISSING
        namespace, _, rest = canonical(row.aten).partition("::")
        op = _resolve(row.aten)
        hit = ctx.report.hit
        if row.when is not None:
            raise ValueError(f"fallback {row.op}: a kernel cannot decline a call, so dispatcher rows take no condition")
        if row.action is Action.CPU and key == "CPU":
            raise ValueError(f"fallback {row.op}: cpu-and-back registered on the CPU key would call itself")

        def kernel(*args: Any, **kwargs: Any) -> Any:
            registry.fire(row)
            # the caller of a kernel is torch/_ops.py: attribute the hit to the first user frame
            hit(rule.key, "fallback", f"{row.op} on {ctx.target.type}", row.action.value, depth=1 + user_depth(1))
            return run_fallback(row, op, args, kwargs)

        library = torch.library.Library(namespace, "IMPL")
        library.impl(rest, kernel, key)
        return library

    note = f"fallback ({row.action.value}) kernel on the target's dispatch key: {row.why}; cost: {row.cost}"
    return Rule(f"fallback.{row.op}", HOLDER, _attr_name(row.op), make, Category.MODIFIED, note,
                check_signature=False, install_missing=True)


def _cpu_and_back(aten: str) -> FallbackRule:
    return FallbackRule(op=aten, targets=("npu",), action=Action.CPU, aten=aten,
                        why="torch_npu has no kernel for it (kernel list or NPU_COMPAT_CPU_FALLBACK_OPS)",
                        cost="host round trip of every argument and result")


def listed_ops(target_type: str, environ: dict[str, str] | None = None) -> list[FallbackRule]:
    """Rows for the ops named in ``NPU_COMPAT_CPU_FALLBACK_OPS`` that lack an NPU kernel."""
    env = os.environ if environ is None else environ
    names = [n.strip() for n in env.get(OPS_ENV, "").split(",") if n.strip()]
    if target_type != "npu" or not names:
        return []
    try:
        from npu_compat.npu_releases.kernels import load_kernel_list
        from npu_compat import npu

        kernels = load_kernel_list(npu.installed_torch_npu_version() or "")
        names = [n for n in names if not kernels.has_overload(canonical(n).partition("::")[2])]
    except Exception:  # no coverage data here: trust the option
        pass
    return [_cpu_and_back(canonical(n)) for n in names]


__all__ = ["dispatcher_rule", "listed_ops", "DISPATCH_KEYS", "OPS_ENV"]
