"""The documented dtype and argument limits of torch_npu's kernels, one row per limit, by release.

A kernel list says an op has an NPU kernel; a limit says which calls that kernel still refuses
(no fp64 matmul, no bf16 grid_sample...). Every part of the kit that cares reads this one table:
the simulated npu refuses such a call, ``parity coverage`` flags it in an inventory, and the npu
target's fallbacks work around it, each only for the releases a row names.

Sources: the API support tables ("限制与说明") of the torch_npu 2.7.1 documentation, read, not run
on an NPU. No row is known for other releases: their tables have not been read, so no limit is
applied to them (docs/npu-coverage.md says so). To add a release, read its tables and add its
version to the rows that still hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch

DOCS_271 = "torch_npu 2.7.1 documentation, API support tables (read, not run)"
RELEASES_271 = ("2.7.1", "2.7.1.post2")

MATMUL_OPS = frozenset({"mm", "bmm", "addmm", "baddbmm", "addmv", "mv", "dot", "addbmm", "matmul"})
UPSAMPLE_OPS = frozenset({
    "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d",
    "_upsample_nearest_exact1d", "_upsample_nearest_exact2d", "_upsample_nearest_exact3d",
    "upsample_linear1d", "upsample_bilinear2d", "upsample_bicubic2d", "upsample_trilinear3d",
    "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa",
})
NONCONSTANT_PAD_OPS = frozenset({"reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
                                 "replication_pad1d", "replication_pad2d", "replication_pad3d"})
GRID_SAMPLE_OPS = frozenset({"grid_sampler", "grid_sampler_2d", "grid_sampler_3d"})
SCALE_ARGS = ("scale_factors", "scales", "scales_h", "scales_w", "scales_d")


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``bfloat16``: the spelling of inventories and of this table."""
    return str(dtype).removeprefix("torch.")


@dataclass(frozen=True)
class Limit:
    """One documented limit: calls of ``ops`` (aten base names, no trailing ``_``) that the
    releases in ``releases`` refuse, described declaratively so that a live call (the simulator)
    and a recorded one (an inventory) are judged by the same row."""

    name: str
    ops: frozenset[str]
    text: str  # what the release refuses, as its docs say it
    fix: str  # what a user does instead
    releases: tuple[str, ...]
    source: str
    refused_dtypes: frozenset[str] = frozenset()  # any tensor argument of these dtypes
    allowed_dtypes: frozenset[str] | None = None  # any tensor argument of another dtype
    refused_arg: tuple[str, Any] | None = None  # (schema argument name, the refused value)
    refuses_scales: bool = False  # an upsample op given scale factors instead of sizes only

    def holds_for(self, version: str | None) -> bool:
        """The row is documented for ``version`` (None: an unknown release, every row holds)."""
        return version is None or version in self.releases

    def applies(self, base: str, dtypes: Iterable[str], bound: Mapping[str, Any]) -> bool:
        """The call (``base`` op name, its tensors' dtypes, its arguments by schema name) is refused."""
        if base.rstrip("_") not in self.ops:
            return False
        found = set(dtypes)
        if self.refused_dtypes & found:
            return True
        if self.allowed_dtypes is not None and found - self.allowed_dtypes:
            return True
        if self.refused_arg is not None:
            name, value = self.refused_arg
            if name in bound and bound[name] is value:
                return True
        return self.refuses_scales and any(bound.get(name) is not None for name in SCALE_ARGS)


LIMITS: tuple[Limit, ...] = (
    Limit("matmul-fp64", MATMUL_OPS, "matmul has no fp64", "compute in fp32, or on the host",
          RELEASES_271, DOCS_271, refused_dtypes=frozenset({"float64"})),
    Limit("sort-fp64", frozenset({"sort"}), "sort has no fp64", "sort in fp32, or on the host",
          RELEASES_271, DOCS_271, refused_dtypes=frozenset({"float64"})),
    Limit("grid_sample-bf16", GRID_SAMPLE_OPS, "grid_sample has no bf16", "run it in fp32",
          RELEASES_271, DOCS_271, refused_dtypes=frozenset({"bfloat16"})),
    Limit("topk-unsorted", frozenset({"topk"}), "topk has no sorted=False", "pass sorted=True",
          RELEASES_271, DOCS_271, refused_arg=("sorted", False)),
    Limit("interpolate-scale_factor", UPSAMPLE_OPS, "interpolate does not take scale_factor",
          "pass size instead", RELEASES_271, DOCS_271, refuses_scales=True),
    Limit("pad-nonconstant-dtype", NONCONSTANT_PAD_OPS, "non-constant pad (reflect, replicate) is fp16/fp32 only",
          "pad in fp32, or use mode='constant'", RELEASES_271, DOCS_271,
          allowed_dtypes=frozenset({"float16", "float32"})),
)
BY_NAME = {row.name: row for row in LIMITS}


def limits_for(version: str | None) -> tuple[Limit, ...]:
    """The rows documented for a torch_npu release (every row for an unknown release, None)."""
    return tuple(row for row in LIMITS if row.holds_for(version))


def find_limit(version: str | None, base: str, dtypes: Iterable[str], bound: Mapping[str, Any]) -> Limit | None:
    """The first row of ``version`` that refuses this call, or None."""
    found = list(dtypes)
    for row in limits_for(version):
        if row.applies(base, found, bound):
            return row
    return None


def tensor_dtypes(values: Iterable[Any]) -> list[str]:
    """The dtype names of the tensors among ``values`` (and inside lists and tuples of them)."""
    names: list[str] = []
    for value in values:
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, torch.Tensor) and dtype_name(item.dtype) not in names:
                names.append(dtype_name(item.dtype))
    return names


__all__ = ["Limit", "LIMITS", "BY_NAME", "limits_for", "find_limit", "tensor_dtypes", "dtype_name",
           "MATMUL_OPS", "UPSAMPLE_OPS", "NONCONSTANT_PAD_OPS", "GRID_SAMPLE_OPS", "DOCS_271", "RELEASES_271"]
