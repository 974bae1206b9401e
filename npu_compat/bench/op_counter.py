"""Count what a device pays for: aten ops dispatched (kernel launches on an accelerator) and host syncs.

``DispatchCounter`` is a ``TorchDispatchMode``: it sees every aten op below autograd on any device (cpu,
cuda, the simulated npu), so it counts the same work on each. What it calls a host sync:

- ops whose result the host must wait for: ``_local_scalar_dense`` (``.item()``, ``bool(t)``, ``int(t)``),
  ops with a data-dependent output shape (``nonzero``, ``masked_select``, ``unique``, indexing with a boolean
  mask, ...): :func:`npu_compat.host_syncs.sync_kind`, the same code the simulated npu's counters use;
- copies from a non-cpu device to the cpu (``_to_copy``/``copy_`` across devices);
- host reads of tensor data that never reach the dispatcher on the cpu target (``Tensor.tolist``,
  ``Tensor.numpy``, ``Tensor.cpu`` on a tensor already on the host): counted only while ``host_reads`` is
  on, so a cpu run counts what an accelerator run would sync on. This over-counts reads of tensors that were
  on the host anyway; ``sites`` names each sync's caller so a reader can tell.

Another counter plugs in through ``Counts``: ``from_sim_tally`` turns the simulated npu's own op, copy and
sync tally into one, so both can be compared row by row.
"""
from __future__ import annotations

import functools
import traceback
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from npu_compat.host_syncs import SYNC_OPS, sync_kind

HOST_READS = ("tolist", "numpy", "cpu")


@dataclass
class Counts:
    """Ops and syncs of one measured block; ``by_op`` and ``sites`` say which and where."""

    ops: int = 0
    kernels: int = 0  # ops that are not pure views (a view launches nothing on an accelerator)
    syncs: int = 0
    copies_in: int = 0  # host data entering device code (host->device copies, ``torch.tensor(list)``)
    by_op: Counter = field(default_factory=Counter)
    sites: Counter = field(default_factory=Counter)  # "file:line reason" of each sync

    def per(self, units: float) -> dict[str, float]:
        return {"ops": self.ops / units, "kernels": self.kernels / units, "syncs": self.syncs / units,
                "copies_in": self.copies_in / units}

    def as_dict(self, top: int = 12) -> dict[str, Any]:
        return {"ops": self.ops, "kernels": self.kernels, "syncs": self.syncs, "copies_in": self.copies_in,
                "top_ops": dict(self.by_op.most_common(top)), "sync_sites": dict(self.sites.most_common(top))}


def _is_view(func: Any) -> bool:
    schema = func._schema
    return not schema.is_mutable and any(r.alias_info is not None for r in schema.returns)


def _caller() -> str:
    """The first frame outside torch and this file: where the sync was asked for."""
    for frame in reversed(traceback.extract_stack(limit=40)[:-2]):
        name = frame.filename.replace("\\", "/")
        if __file__ not in frame.filename and "/torch/" not in name and "/contextlib.py" not in name:
            parts = name.split("/")
            return f"{'/'.join(parts[-2:])}:{frame.lineno}"
    return "?"


def _device_of(value: Any) -> torch.device | None:
    return value.device if isinstance(value, torch.Tensor) else None


class DispatchCounter(TorchDispatchMode):
    """``with DispatchCounter() as c: ...`` then ``c.counts``. Nested ``pause()`` blocks are not counted."""

    def __init__(self, host_reads: bool = False, sites: bool = True) -> None:
        super().__init__()
        self.counts = Counts()
        self.host_reads = host_reads
        self.record_sites = sites
        self._paused = 0
        self._saved: dict[str, Callable[..., Any]] = {}
        # storages of host copies already counted (their .numpy() is free), held weakly: a freed storage's
        # address can be reused by a new tensor, which must count again
        self._host_copies: dict[int, weakref.ref] = {}

    def _remember_host_copy(self, tensor: Any) -> None:
        if isinstance(tensor, torch.Tensor):
            if len(self._host_copies) > 4096:
                self._host_copies = {k: v for k, v in self._host_copies.items() if v() is not None}
            self._host_copies[tensor.untyped_storage().data_ptr()] = weakref.ref(tensor)

    def _is_host_copy(self, tensor: torch.Tensor) -> bool:
        ref = self._host_copies.get(tensor.untyped_storage().data_ptr())
        return ref is not None and ref() is not None

    def _sync(self, reason: str) -> None:
        self.counts.syncs += 1
        if self.record_sites:
            self.counts.sites[f"{_caller()} {reason}"] += 1

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if not self._paused:
            name = func._schema.name.split("::")[-1]
            self.counts.ops += 1
            self.counts.by_op[name] += 1
            if not _is_view(func):
                self.counts.kernels += 1
            kind = sync_kind(name, args)
            if kind is not None:
                self._sync(kind)
            elif name == "lift_fresh":
                self.counts.copies_in += 1
            elif name in ("_to_copy", "copy_"):
                if self._copy(name, args, kwargs):
                    out = func(*args, **kwargs)
                    self._remember_host_copy(out)
                    return out
        return func(*args, **kwargs)

    def _copy(self, name: str, args: tuple, kwargs: dict) -> bool:
        """Counts a cross-device copy; True for a device-to-host one."""
        src = _device_of(args[1] if name == "copy_" else args[0])
        dst = _device_of(args[0]) if name == "copy_" else kwargs.get("device")
        if src is None or dst is None or torch.device(dst).type == src.type:
            return False
        if torch.device(dst).type == "cpu":
            self._sync(f"{name} to host")
            return True
        if src.type == "cpu":
            self.counts.copies_in += 1
        return False

    def pause(self) -> "_Paused":
        return _Paused(self)

    def __enter__(self) -> "DispatchCounter":
        if self.host_reads:
            for name in HOST_READS:
                original = getattr(torch.Tensor, name)
                self._saved[name] = original
                setattr(torch.Tensor, name, self._reading(name, original))
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)
        self._saved.clear()

    def _reading(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        counter = self

        @functools.wraps(original)
        def read(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            out = original(tensor, *args, **kwargs)
            if counter._paused or tensor.device.type != "cpu":  # other devices: the copy op counts it
                return out
            if not counter._is_host_copy(tensor):
                counter._sync(f"Tensor.{name}")
                counter._remember_host_copy(tensor)
            return out

        return read


class _Paused:
    def __init__(self, counter: DispatchCounter) -> None:
        self.counter = counter

    def __enter__(self) -> None:
        self.counter._paused += 1

    def __exit__(self, *exc: Any) -> None:
        self.counter._paused -= 1


def from_sim_tally(tally: Any) -> Counts:
    """The simulated npu's own tally (``npu_compat.sim.counters.Tally``: ops, fallback_ops, h2d, d2h, syncs)
    as ``Counts``, so its numbers sit in the same tables as this counter's."""
    return Counts(ops=tally.ops + tally.fallback_ops, kernels=tally.ops, syncs=tally.syncs, copies_in=tally.h2d,
                  by_op=Counter(tally.by_op), sites=Counter(tally.sync_by_kind))


def count(fn: Callable[[], Any], host_reads: bool = True) -> tuple[Counts, Any]:
    """Run ``fn`` once under a fresh ``DispatchCounter``; (its counts, fn's result)."""
    with DispatchCounter(host_reads=host_reads) as counter:
        out = fn()
    return counter.counts, out


__all__ = ["Counts", "DispatchCounter", "count", "from_sim_tally", "SYNC_OPS", "HOST_READS"]
