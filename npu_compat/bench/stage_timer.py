"""Where the seconds go: wall time per named stage of a running program, each second counted once.

A stage is a callable reached through an attribute: a module's ``forward`` (``(module, "forward")``, which
catches ``module(x)`` and upstream's direct ``module.forward(x)`` alike), a method of one object, or a
function looked up in a module's globals (``(sam3.model.sam3_image, "nms_masks")``). While the timer is
entered, each is replaced by a wrapper on that object (an instance attribute), and put back on exit.

Times are exclusive: a stage running inside another one is subtracted from the outer one, so the stages of
one phase add up to the phase's wall time. A phase is an outer stage (``add_prompt``,
``propagate_in_video``; generator functions are timed per step, so the caller's code between steps is
not counted); what no inner stage claims is the phase's ``rest`` (host-side bookkeeping). Calls outside
every phase are not counted.
"""
from __future__ import annotations

import functools
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

REST = "rest"


@dataclass
class StageTotals:
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> stage -> exclusive seconds
    calls: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, phase: str, stage: str, seconds: float) -> None:
        self.seconds.setdefault(phase, {}).setdefault(stage, 0.0)
        self.seconds[phase][stage] += seconds
        self.calls.setdefault(phase, {}).setdefault(stage, 0)
        self.calls[phase][stage] += 1

    def phase_wall(self, phase: str) -> float:
        return sum(self.seconds.get(phase, {}).values())

    def by_stage(self) -> dict[str, float]:
        """Seconds per stage over all phases."""
        out: dict[str, float] = {}
        for stages in self.seconds.values():
            for stage, seconds in stages.items():
                out[stage] = out.get(stage, 0.0) + seconds
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "calls": self.calls}


class StageTimer:
    """``stages``: (label, owner, attribute name) rows; ``phases`` the same for the outer stages. Rows whose
    owner is None are skipped (a part the model does not have); several rows may share a label."""

    def __init__(self, stages: Sequence[tuple[str, Any, str]], phases: Sequence[tuple[str, Any, str]],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._rows = [(label, owner, name, False) for label, owner, name in stages if owner is not None]
        self._rows += [(label, owner, name, True) for label, owner, name in phases if owner is not None]
        self._clock = clock
        self._stack: list[list[Any]] = []  # [phase, stage, start, seconds of the stages inside]
        self._saved: list[tuple[Any, str, bool, Any]] = []
        self.totals = StageTotals()

    def _enter(self, label: str, is_phase: bool) -> bool:
        if not self._stack and not is_phase:
            return False  # outside every phase: not counted
        phase = label if not self._stack else self._stack[-1][0]
        self._stack.append([phase, REST if is_phase and not self._stack else label, self._clock(), 0.0])
        return True

    def _exit(self) -> None:
        phase, stage, start, inner = self._stack.pop()
        elapsed = self._clock() - start
        self.totals.add(phase, stage, elapsed - inner)
        if self._stack:
            self._stack[-1][3] += elapsed

    def _wrap(self, label: str, original: Callable[..., Any], is_phase: bool) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(inspect.unwrap(original)) or inspect.isgeneratorfunction(original):
            @functools.wraps(original)
            def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
                inner = original(*args, **kwargs)
                try:
                    while True:
                        counted = self._enter(label, is_phase)
                        try:
                            item = next(inner)
                        except StopIteration:
                            return
                        finally:
                            if counted:
                                self._exit()
                        yield item
                finally:
                    inner.close()

            return generator

        @functools.wraps(original)
        def call(*args: Any, **kwargs: Any) -> Any:
            counted = self._enter(label, is_phase)
            try:
                return original(*args, **kwargs)
            finally:
                if counted:
                    self._exit()

        return call

    def __enter__(self) -> "StageTimer":
        for label, owner, name, is_phase in self._rows:
            had_own = name in vars(owner)
            previous = vars(owner)[name] if had_own else None
            original = getattr(owner, name)
            self._saved.append((owner, name, had_own, previous))
            setattr(owner, name, self._wrap(label, original, is_phase))
        return self

    def __exit__(self, *exc: Any) -> None:
        for owner, name, had_own, previous in reversed(self._saved):
            if had_own:
                setattr(owner, name, previous)
            else:
                delattr(owner, name)
        self._saved.clear()
        self._stack.clear()


__all__ = ["StageTimer", "StageTotals", "REST"]
