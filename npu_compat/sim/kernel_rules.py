"""Which aten ops the simulated npu (a TEST DOUBLE of the Ascend stack) runs on the device.

An op dispatched to the device runs there when the chosen torch_npu release's kernel list
(``npu_compat/data/npu_kernels/``, read from the release's own codegen yaml) names its overload,
or names the ``out=`` overload of its structured family (torch_npu registers the functional
and in-place forms of a structured op from its out kernel). Otherwise torch decides as the
dispatcher does on hardware: an op with a CompositeExplicitAutograd kernel is decomposed into
other ops, and anything else has no kernel. The documented dtype/argument limits of the 2.7.1
tables are rules on top, checked per call. An unlisted op with a CompositeImplicitAutograd kernel
(``linear``, ``reshape``) reaches a Python device only in inference mode; it is decomposed there,
as the hardware dispatcher does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from npu_compat.npu_releases.kernels import KernelList

KERNEL, COMPOSITE, IMPLICIT, MISSING = "kernel", "composite", "decomposes", "missing"
MATMUL_OPS = frozenset({"mm", "bmm", "addmm", "baddbmm", "addmv", "mv", "dot", "addbmm", "matmul"})
UPSAMPLE_OPS = frozenset({"upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "upsample_bilinear2d",
                          "upsample_bicubic2d", "upsample_linear1d", "upsample_trilinear3d", "_upsample_bilinear2d_aa",
                          "_upsample_bicubic2d_aa", "_upsample_nearest_exact2d"})
SCALE_ARGS = ("scale_factors", "scales", "scales_h", "scales_w", "scales_d")


def overload_name(op: torch._ops.OpOverload) -> str:
    """``relu`` for ``aten::relu.default``, ``add.Tensor`` for ``aten::add.Tensor``: the list's spelling."""
    packet, overload = op._schema.name.split("::", 1)[1], op._overloadname
    return packet if overload == "default" else f"{packet}.{overload}"


def _out_variants(name: str) -> tuple[str, ...]:
    base, _, overload = name.partition(".")
    base = base.rstrip("_")
    if not overload or overload == "default":
        return (f"{base}.out",)
    return (f"{base}.out", f"{base}.{overload}_out")


def _has(qualified: str, key: str) -> bool:
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(qualified, key)
    except RuntimeError:
        return False


@dataclass(frozen=True)
class Limit:
    """A documented limit: ``applies(op base name, bound arguments)`` means the release refuses the call."""

    name: str
    applies: Callable[[str, dict[str, Any]], bool]
    text: str


def _dtypes(bound: dict[str, Any]) -> set[torch.dtype]:
    found: set[torch.dtype] = set()
    for value in bound.values():
        items = value if isinstance(value, (list, tuple)) else [value]
        found |= {item.dtype for item in items if isinstance(item, torch.Tensor)}
    return found


def _scale_given(base: str, bound: dict[str, Any]) -> bool:
    return base in UPSAMPLE_OPS and any(bound.get(name) is not None for name in SCALE_ARGS)


LIMITS = (
    Limit("matmul-fp64", lambda base, b: base in MATMUL_OPS and torch.float64 in _dtypes(b), "matmul has no fp64"),
    Limit("sort-fp64", lambda base, b: base == "sort" and torch.float64 in _dtypes(b), "sort has no fp64"),
    Limit("grid_sample-bf16", lambda base, b: base.startswith("grid_sampler") and torch.bfloat16 in _dtypes(b),
          "grid_sample has no bf16"),
    Limit("topk-unsorted", lambda base, b: base == "topk" and b.get("sorted", True) is False,
          "topk has no sorted=False"),
    Limit("interpolate-scale_factor", _scale_given, "interpolate does not take scale_factor"),
)


class KernelRules:
    """The kernel list of one torch_npu release, as the dispatcher of the simulated npu uses it."""

    def __init__(self, kernels: KernelList) -> None:
        self.kernels = kernels
        self.version = kernels.version
        self._status: dict[str, str] = {}

    def status(self, op: torch._ops.OpOverload) -> str:
        name = overload_name(op)
        cached = self._status.get(name)
        if cached is None:
            cached = self._status[name] = self._decide(op, name)
        return cached

    def _decide(self, op: torch._ops.OpOverload, name: str) -> str:
        if not op._schema.name.startswith("aten::"):
            return MISSING if not self.kernels.has_overload(name) else KERNEL
        if self.kernels.has_overload(name):
            return KERNEL
        if _has(op.name(), "CompositeExplicitAutogradNonFunctional") and any(
                self.kernels.has_overload(v) for v in _out_variants(name)):
            return KERNEL
        if _has(op.name(), "CompositeImplicitAutograd"):
            return IMPLICIT  # reaches the device only in inference mode, where hardware decomposes it too
        if _has(op.name(), "CompositeExplicitAutograd"):
            return COMPOSITE
        return MISSING

    def limit(self, op: torch._ops.OpOverload, bound: dict[str, Any]) -> Limit | None:
        base = op._schema.name.split("::", 1)[1].rstrip("_")
        for rule in LIMITS:
            if rule.applies(base, bound):
                return rule
        return None


def bind(op: torch._ops.OpOverload, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by schema name."""
    bound = dict(kwargs)
    for argument, value in zip(op._schema.arguments, args):
        bound[argument.name] = value
    return bound


__all__ = ["KernelRules", "Limit", "LIMITS", "bind", "overload_name", "KERNEL", "COMPOSITE", "IMPLICIT", "MISSING"]
