"""Which aten calls make the host wait for a device: one definition for every counter in the kit.

An accelerator runs ahead of the host until the host needs a value: a scalar (``.item()``, ``bool(t)``),
an output whose shape depends on the data (``nonzero``, ``masked_select``, ``unique``, indexing with a
boolean mask, which is a ``nonzero``), or a copy to the host. :func:`sync_kind` names the reason for one
aten call, or returns None. The bench counter (``npu_compat.bench.op_counter``) and the simulated npu's
counters both ask it, so their sync counts agree op by op.
"""
from __future__ import annotations

from typing import Any

import torch

SYNC_OPS = frozenset({
    "_local_scalar_dense", "item", "is_nonzero", "equal", "allclose", "nonzero", "argwhere", "masked_select",
    "_unique", "_unique2", "unique_dim", "unique_consecutive", "repeat_interleave",
})
BOOL_INDEX_OPS = frozenset({"index", "index_put", "index_put_", "_index_put_impl_"})  # a bool index is a nonzero


def has_bool_index(args: tuple) -> bool:
    """The ``indices`` argument (second) of an index op holds a boolean or uint8 mask."""
    indices = args[1] if len(args) > 1 and isinstance(args[1], (list, tuple)) else ()
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in indices)


def sync_kind(name: str, args: tuple[Any, ...]) -> str | None:
    """Why the aten op ``name`` (base name, no namespace or overload) with ``args`` waits for the device, or None.

    Copies are not judged here: whether a copy waits depends on where its source and destination are.
    """
    if name in SYNC_OPS:
        return name
    if name in BOOL_INDEX_OPS and has_bool_index(args):
        return f"{name} with a bool mask"
    return None


__all__ = ["SYNC_OPS", "BOOL_INDEX_OPS", "has_bool_index", "sync_kind"]
