"""Counters of what costs time on a real NPU, kept by the simulated npu (a TEST DOUBLE of the
Ascend stack): ops dispatched to the device, host<->device copies, and host syncs.

The simulator computes on the host, so these are counts, not times. Use them to compare two
versions of a program (did a change remove a sync? a copy?), per run or per labelled region::

    from npu_compat.sim import counters
    counters.reset()
    with counters.region("decoder"):
        model(x)
    counters.snapshot()["regions"]["decoder"]["syncs"]

Every event counts in the run totals and in every region open at that moment (regions nest).
"""
from __future__ import annotations

import contextlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

KINDS = ("ops", "fallback_ops", "h2d", "d2h", "d2d", "syncs")


@dataclass
class Tally:
    """Counts for the run or for one region."""

    ops: int = 0            # aten ops run on the device (a kernel in the release's list)
    fallback_ops: int = 0   # ops run on the host by torch_npu's CPU fallback
    h2d: int = 0            # host -> device copies
    d2h: int = 0            # device -> host copies
    d2d: int = 0            # copies between two device indices
    syncs: int = 0          # host waits on the device (.item(), .cpu(), nonzero, synchronize...)
    by_op: Counter = field(default_factory=Counter)
    sync_by_kind: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {kind: getattr(self, kind) for kind in KINDS}
        out["by_op"] = dict(self.by_op.most_common())
        out["sync_by_kind"] = dict(self.sync_by_kind.most_common())
        return out


class Counters:
    """The run tally, per-region tallies and the stack of open regions."""

    def __init__(self) -> None:
        self.run = Tally()
        self.regions: dict[str, Tally] = {}
        self._open = threading.local()

    def _stack(self) -> list[Tally]:
        stack = getattr(self._open, "stack", None)
        if stack is None:
            stack = self._open.stack = []
        return stack

    def _tallies(self) -> list[Tally]:
        return [self.run, *self._stack()]

    def op(self, name: str, fallback: bool = False) -> None:
        for tally in self._tallies():
            if fallback:
                tally.fallback_ops += 1
            else:
                tally.ops += 1
            tally.by_op[name] += 1

    def copy(self, kind: str) -> None:
        for tally in self._tallies():
            setattr(tally, kind, getattr(tally, kind) + 1)
        if kind == "d2h":
            self.sync("d2h copy")

    def sync(self, why: str) -> None:
        for tally in self._tallies():
            tally.syncs += 1
            tally.sync_by_kind[why] += 1

    @contextlib.contextmanager
    def region(self, label: str) -> Iterator[Tally]:
        tally = self.regions.setdefault(label, Tally())
        stack = self._stack()
        stack.append(tally)
        try:
            yield tally
        finally:
            stack.remove(tally)

    def reset(self) -> None:
        self.run = Tally()
        self.regions = {}

    def snapshot(self) -> dict[str, Any]:
        return {"run": self.run.as_dict(), "regions": {k: v.as_dict() for k, v in self.regions.items()}}


COUNTERS = Counters()
region = COUNTERS.region
reset = COUNTERS.reset
snapshot = COUNTERS.snapshot

__all__ = ["COUNTERS", "Counters", "Tally", "region", "reset", "snapshot", "KINDS"]
