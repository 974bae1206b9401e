"""Which aten ops the simulated npu (a TEST DOUBLE of the Ascend stack) runs on the device.

An op that reaches the device (the PrivateUse1 key: after autograd and torch's composite kernels,
see :mod:`npu_compat.sim.dispatch`) runs there when the chosen torch_npu release's kernel list
(``npu_compat/data/npu_kernels/``, read from the release's own codegen yaml) names its overload,
or names the ``out=`` overload of its structured family (torch_npu registers the functional
and in-place forms of a structured op from its out kernel). Otherwise it is missing: torch_npu's
CPU fallback. ``status`` also says what torch does with an unlisted op before the device sees it
(CompositeImplicitAutograd: decomposes; CompositeExplicitAutograd: its composite kernel runs), which
the dispatcher uses to decide which listed composites take precedence. The documented dtype/argument
limits of the release (the one table in ``npu_compat.npu_releases.limits``) are rules on top, checked
per call.
"""
from __future__ import annotations

from typing import Any

import torch

from npu_compat.npu_releases.kernels import KernelList
from npu_compat.npu_releases.limits import Limit, find_limit, tensor_dtypes

KERNEL, COMPOSITE, IMPLICIT, MISSING = "kernel", "composite", "decomposes", "missing"


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
        """The release's documented limit that refuses this call, if one does."""
        base = op._schema.name.split("::", 1)[1]
        return find_limit(self.version, base, tensor_dtypes(bound.values()), bound)


def bind(op: torch._ops.OpOverload, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by schema name."""
    bound = dict(kwargs)
    for argument, value in zip(op._schema.arguments, args):
        bound[argument.name] = value
    return bound


__all__ = ["KernelRules", "Limit", "bind", "overload_name", "KERNEL", "COMPOSITE", "IMPLICIT", "MISSING"]
