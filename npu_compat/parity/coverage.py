"""Which ops of an inventory lack an NPU kernel in a torch_npu release, and which hit a limit.

An inventory op is, for a given torch_npu kernel list:

- ``npu kernel``: the overload is in torch_npu's codegen yaml;
- ``composite``: not listed, but torch has a CompositeExplicitAutograd kernel for it, which
  runs on any backend by calling other ops (views, ``_to_copy``, ``t``...), or it is a
  structured op whose CompositeExplicitAutogradNonFunctional kernel calls an ``out=`` overload
  that is listed (``gelu`` -> ``gelu.out``, ``scatter.src`` -> ``scatter.src_out``);
- ``missing``: neither. torch_npu's CPU fallback runs it on the CPU (a warning and two copies),
  or it fails when ``TORCH_NPU_FALLBACK_CPU_DISABLE=1``.

CPU-only kernels captured on a CPU run (``_scaled_dot_product_flash_attention_for_cpu``) are
looked up by their portable op (``scaled_dot_product_attention``), which is what a device run
dispatches. The composite check uses the torch installed here, which may differ from the torch
that a torch_npu release pairs with. The release's documented dtype/argument limits (the one
table in ``npu_compat.npu_releases.limits``, which the simulated npu and the fallbacks read too)
are checked per entry, its arguments bound to the op's schema names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from npu_compat.npu_releases.kernels import KernelList
from npu_compat.npu_releases.limits import Limit, find_limit, limits_for
from npu_compat.parity.inventory import Inventory, InventoryEntry, op_base, op_overload

KERNEL, COMPOSITE, MISSING = "npu kernel", "composite", "missing"
PORTABLE_OP = {
    "_scaled_dot_product_flash_attention_for_cpu": "scaled_dot_product_attention",
    "_scaled_dot_product_flash_attention": "scaled_dot_product_attention",
    "_scaled_dot_product_efficient_attention": "scaled_dot_product_attention",
    "_scaled_dot_product_cudnn_attention": "scaled_dot_product_attention",
}


def limits_source(version: str) -> str:
    """Where the limits applied to ``version`` come from, in words."""
    sources = sorted({row.source for row in limits_for(version)})
    return "; ".join(sources) if sources else f"no documented limits have been read for torch_npu {version}"


def bound_arguments(entry: InventoryEntry) -> dict[str, Any]:
    """An inventory entry's recorded arguments by the op's schema names (positional ones bound in order)."""
    bound = dict(entry.kwargs)
    parts = entry.op.split(".")
    try:
        packet = getattr(getattr(torch.ops, parts[0]), parts[1])
        schema = getattr(packet, parts[2] if len(parts) > 2 else "default")._schema
    except (AttributeError, IndexError, RuntimeError):
        return bound
    for argument, value in zip(schema.arguments, entry.args):
        bound[argument.name] = value
    return bound


def entry_limit(entry: InventoryEntry, version: str) -> Limit | None:
    """The documented limit of ``version`` that refuses this recorded call, if one does."""
    return find_limit(version, entry.base, entry.dtypes, bound_arguments(entry))


def _has_kernel(op: str, key: str) -> bool:
    qualified = f"{op.split('.', 1)[0]}::{op_overload(op)}"
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(qualified, key)
    except RuntimeError:
        return False


def out_variants(overload: str) -> tuple[str, ...]:
    """Names torch_npu may list for the out= form of an overload: ``gelu.out``, ``scatter.src_out``."""
    base, _, name = overload.partition(".")
    return (f"{base}.out", f"{base}.{name}_out") if name else (f"{base}.out",)


def composite_route(op: str, kernels: KernelList) -> str | None:
    """How an unlisted op still runs on the NPU without a CPU fallback, if it does."""
    if _has_kernel(op, "CompositeExplicitAutograd"):
        return "CompositeExplicitAutograd"
    if _has_kernel(op, "CompositeExplicitAutogradNonFunctional"):
        listed = [name for name in out_variants(op_overload(op)) if kernels.has_overload(name)]
        if listed:
            return f"structured, via {listed[0]}"
    return None


@dataclass
class OpCoverage:
    op: str
    lookup: str            # the overload looked up in the kernel list
    status: str
    route: str             # why: listed, composite kernel, or the out= overload it calls
    calls: int
    runs: list[str]


@dataclass
class LimitHit:
    rule: str
    op: str
    args: str
    note: str
    calls: int


@dataclass
class CoverageReport:
    torch_npu_version: str
    kernel_source: dict[str, Any]
    inventory_meta: dict[str, Any]
    ops: list[OpCoverage] = field(default_factory=list)
    limits: list[LimitHit] = field(default_factory=list)

    def by_status(self, status: str) -> list[OpCoverage]:
        return [op for op in self.ops if op.status == status]

    def summary(self) -> str:
        return (f"torch_npu {self.torch_npu_version}: {len(self.ops)} distinct ops; "
                f"{len(self.by_status(KERNEL))} with NPU kernels, {len(self.by_status(COMPOSITE))} composite, "
                f"{len(self.by_status(MISSING))} missing (CPU fallback); {len(self.limits)} entries hit a "
                "documented dtype/argument limit")

    def as_dict(self) -> dict[str, Any]:
        return {"torch_npu_version": self.torch_npu_version, "kernel_source": self.kernel_source,
                "inventory": self.inventory_meta, "summary": self.summary(),
                "ops": [vars(op) for op in self.ops], "limits": [vars(hit) for hit in self.limits]}


def op_status(op: str, kernels: KernelList) -> tuple[str, str, str]:
    """(status, looked-up overload, route) of one inventory op against a kernel list."""
    overload = op_overload(op)
    base = op_base(op)
    if base in PORTABLE_OP:
        overload = PORTABLE_OP[base]
    if kernels.has_overload(overload):
        return KERNEL, overload, "listed" + (f" as {overload}" if base in PORTABLE_OP else "")
    if not op.startswith("aten."):
        return MISSING, overload, "not an aten op: torch_npu's codegen lists none (CPU fallback)"
    route = composite_route(op, kernels)
    if route:
        return COMPOSITE, overload, route
    return MISSING, overload, "no NPU kernel: CPU fallback"


def coverage_report(inventory: Inventory, kernels: KernelList) -> CoverageReport:
    report = CoverageReport(kernels.version, kernels.source, inventory.meta)
    calls: dict[str, int] = {}
    runs: dict[str, list[str]] = {}
    for entry in inventory:
        calls[entry.op] = calls.get(entry.op, 0) + entry.count
        runs.setdefault(entry.op, [])
        runs[entry.op] += [run for run in entry.runs if run not in runs[entry.op]]
        row = entry_limit(entry, kernels.version)
        if row is not None:
            report.limits.append(LimitHit(row.name, entry.op, entry.short_args(), f"{row.text}: {row.fix}", entry.count))
    for op in sorted(calls, key=lambda name: (-calls[name], name)):
        status, lookup, route = op_status(op, kernels)
        report.ops.append(OpCoverage(op, lookup, status, route, calls[op], runs[op]))
    return report
