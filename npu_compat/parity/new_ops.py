"""The ops one inventory needs that another did not (SAM 3.1 against 0.1.4), per torch_npu release.

For each op of ``inventory`` that ``baseline`` never called, the coverage status of
:mod:`npu_compat.parity.coverage` and what the kit does about it:

- an NPU kernel or a composite route: nothing is needed;
- missing, with a row in the npu target's fallback table (``npu_compat/fallbacks/table.py``): that row;
- missing, but no recorded call passes a tensor: it runs on the host, no copy, nothing is needed;
- missing otherwise: torch_npu's own CPU fallback (a warning and two copies per call); no kit row.

Every distinct call the baseline never made (a new op, or an old op with new argument shapes or
dtypes) is checked against the release's documented dtype/argument limits; a hit is named with the
fallback row that works around it, or with none. The inventory's ``rewritten`` meta (the rule pack rows
that replaced device code before it reached aten, such as FlashAttention-3 in fp8) is listed
beside, since the ops those rows avoided never appear in a capture.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from npu_compat.fallbacks.table import FALLBACK_TABLE
from npu_compat.parity.argspec import iter_tensor_specs
from npu_compat.parity.coverage import COMPOSITE, KERNEL, MISSING, CoverageReport, coverage_report, entry_limit
from npu_compat.parity.inventory import Inventory
from npu_compat.npu_releases.kernels import KernelList

NOTHING = "nothing needed"


@dataclass
class NewOp:
    op: str
    status: str
    route: str
    calls: int
    kit: str  # what the kit does about it, in words


@dataclass
class NewOpsReport:
    label: str
    baseline: str
    coverage: CoverageReport
    ops: list[NewOp] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)  # "limit-name on op: what the kit does"
    rewritten: dict[str, dict[str, str]] = field(default_factory=dict)
    new_calls: int = 0  # distinct calls (op and argument shapes/dtypes) the baseline never made, new ops or not
    dropped: list[str] = field(default_factory=list)  # ops the baseline called that this inventory does not

    def summary(self) -> str:
        missing = [op for op in self.ops if op.status == MISSING]
        return (f"torch_npu {self.coverage.torch_npu_version}: {len(self.ops)} ops that {self.baseline} did not call; "
                f"{sum(op.status == KERNEL for op in self.ops)} with NPU kernels, "
                f"{sum(op.status == COMPOSITE for op in self.ops)} composite, {len(missing)} missing; "
                f"{self.new_calls} distinct calls it did not make, {len(self.limits)} of them hit a documented limit")

    def as_dict(self) -> dict[str, Any]:
        return {"inventory": self.label, "since": self.baseline, "torch_npu_version": self.coverage.torch_npu_version,
                "summary": self.summary(), "ops": [vars(op) for op in self.ops], "limits": self.limits,
                "new_calls": self.new_calls, "dropped": self.dropped, "rewritten": self.rewritten}


def fallback_row_for(op: str) -> str | None:
    """The npu fallback row that handles ``op`` (``torchvision.roi_align.default``), if one does."""
    base = op.rsplit(".", 1)[0] if op.count(".") >= 2 else op
    for row in FALLBACK_TABLE:
        if "npu" in row.targets and (row.op == base or row.aten.replace("::", ".") in (op, base)):
            return row.op
    return None


def limit_row_for(limit: str) -> str | None:
    """The npu fallback row that works around the documented limit ``limit``, if one does."""
    return next((row.op for row in FALLBACK_TABLE if row.limit == limit), None)


def _takes_tensors(inventory: Inventory, op: str) -> bool:
    return any(next(iter_tensor_specs([e.args, e.kwargs]), None) is not None for e in inventory if e.op == op)


def kit_action(op: str, status: str, inventory: Inventory) -> str:
    """What the kit does about one op on the npu target (see the module docstring)."""
    if status == KERNEL:
        return f"{NOTHING} (NPU kernel)"
    if status == COMPOSITE:
        return f"{NOTHING} (runs on the NPU through other ops)"
    row = fallback_row_for(op)
    if row is not None:
        return f"fallback row `{row}`"
    if not _takes_tensors(inventory, op):
        return f"{NOTHING} (no tensor argument: runs on the host, no copy)"
    return "torch_npu's CPU fallback (a warning, two copies per call); no kit row"


def new_ops_report(label: str, inventory: Inventory, baseline_label: str, baseline: Inventory,
                   kernels: KernelList) -> NewOpsReport:
    """The ops of ``inventory`` that ``baseline`` did not call, against one kernel list."""
    coverage = coverage_report(inventory, kernels)
    new = inventory.ops() - baseline.ops()
    report = NewOpsReport(label, baseline_label, coverage, rewritten=dict(inventory.meta.get("rewritten", {})))
    for op in coverage.ops:
        if op.op in new:
            report.ops.append(NewOp(op.op, op.status, op.route, op.calls, kit_action(op.op, op.status, inventory)))
    report.ops.sort(key=lambda op: ({MISSING: 0, COMPOSITE: 1, KERNEL: 2}[op.status], op.op))
    seen = {entry.signature() for entry in baseline}
    for entry in inventory:
        if entry.signature() in seen:
            continue
        report.new_calls += 1
        limit = entry_limit(entry, kernels.version)
        if limit is not None:
            row = limit_row_for(limit.name)
            report.limits.append(f"`{limit.name}` on `{entry.op}` {entry.short_args()} ({entry.count} calls): "
                                 + (f"fallback row `{row}`" if row else "no kit row"))
    report.dropped = sorted(baseline.ops() - inventory.ops())
    return report


__all__ = ["NewOp", "NewOpsReport", "new_ops_report", "kit_action", "fallback_row_for", "limit_row_for"]
