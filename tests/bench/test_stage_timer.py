"""Tests for npu_compat.bench.stage_timer: exclusive seconds per stage inside phases, everything put back."""
from __future__ import annotations

import sys
import types

import pytest
import torch

from npu_compat.bench.stage_timer import REST, StageTimer


class Clock:
    """A clock the test advances by hand, so every second is known."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


class Job:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def inner(self) -> str:
        self.clock.spend(2.0)
        return "inner"

    def run(self) -> str:
        self.clock.spend(1.0)
        return self.inner() + self.inner()

    def steps(self, n: int):
        for _ in range(n):
            self.clock.spend(0.5)
            self.inner()
            yield "step"


def test_stages_are_exclusive_and_add_up_to_the_phase():
    clock = Clock()
    job = Job(clock)
    with StageTimer([("inner part", job, "inner")], [("run", job, "run")], clock=clock) as timer:
        assert job.run() == "innerinner"
    assert timer.totals.seconds == {"run": {"inner part": 4.0, REST: 1.0}}
    assert timer.totals.calls == {"run": {"inner part": 2, REST: 1}}
    assert timer.totals.phase_wall("run") == 5.0


def test_generator_phase_counts_its_steps_not_the_caller_between_them():
    clock = Clock()
    job = Job(clock)
    with StageTimer([("inner part", job, "inner")], [("steps", job, "steps")], clock=clock) as timer:
        for _ in job.steps(3):
            clock.spend(10.0)  # the caller's own work between steps
    assert timer.totals.seconds["steps"] == {"inner part": 6.0, REST: 1.5}


def test_calls_outside_every_phase_are_not_counted():
    clock = Clock()
    job = Job(clock)
    with StageTimer([("inner part", job, "inner")], [("run", job, "run")], clock=clock) as timer:
        job.inner()
    assert timer.totals.seconds == {}


def test_an_exception_inside_a_stage_keeps_the_books_straight():
    clock = Clock()
    job = Job(clock)

    def failing() -> None:
        clock.spend(3.0)
        raise ValueError("boom")

    job.inner = failing  # an instance attribute of its own, put back after the timer
    with StageTimer([("inner part", job, "inner")], [("run", job, "run")], clock=clock) as timer:
        with pytest.raises(ValueError):
            job.run()
        with pytest.raises(ValueError):
            job.run()
    assert timer.totals.seconds == {"run": {"inner part": 6.0, REST: 2.0}}
    assert job.inner is failing


def test_module_forward_is_timed_both_ways_it_is_called_and_everything_is_put_back():
    clock = Clock()
    layer = torch.nn.Linear(2, 2)
    calls_before = type(layer).forward
    mod = types.ModuleType("fake_upstream")

    def helper(x):
        clock.spend(1.0)
        return x

    mod.helper = helper
    sys.modules["fake_upstream"] = mod
    try:
        job = Job(clock)

        def run():
            layer(torch.ones(1, 2))
            layer.forward(torch.ones(1, 2))  # upstream calls some modules' forward directly
            return mod.helper(1)

        job.run = run
        with StageTimer([("linear", layer, "forward"), ("helper", mod, "helper"), ("absent", None, "forward")],
                        [("run", job, "run")], clock=clock) as timer:
            job.run()
        assert timer.totals.calls["run"] == {"linear": 2, "helper": 1, REST: 1}
        assert timer.totals.seconds["run"]["helper"] == 1.0
        assert "forward" not in vars(layer) and type(layer).forward is calls_before
        assert mod.helper is helper and job.run is run
    finally:
        del sys.modules["fake_upstream"]


def test_by_stage_sums_over_phases():
    clock = Clock()
    job = Job(clock)
    with StageTimer([("inner part", job, "inner")], [("run", job, "run"), ("steps", job, "steps")],
                    clock=clock) as timer:
        job.run()
        list(job.steps(1))
    assert timer.totals.by_stage() == {"inner part": 6.0, REST: 1.5}
