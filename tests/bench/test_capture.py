"""Tests for npu_compat.bench.capture: replays are counted and their ops left out of the op counter.

(``count_capture`` on the simulated npu's graphs and the tiny model: tests/sam3/test_captured_prompts.py.)"""
from __future__ import annotations

import torch

from npu_compat.bench.capture import counted_replays
from npu_compat.bench.op_counter import DispatchCounter


class FakeGraph:
    def replay(self) -> None:
        torch.ones(3).add_(1).mul_(2)  # what a simulated replay re-runs: dispatched ops


def test_a_replay_is_seen_and_its_ops_are_not_counted():
    seen: list[int] = []
    original = FakeGraph.replay
    with DispatchCounter() as counter, counted_replays(torch.device("cpu"), counter, seen, FakeGraph):
        FakeGraph().replay()
        FakeGraph().replay()
        torch.zeros(2).add_(1)  # outside a replay: counted
    assert seen == [1, 1]
    assert counter.counts.by_op["add_"] == 1 and counter.counts.by_op["mul_"] == 0
    assert FakeGraph.replay is original  # put back


def test_without_a_graph_class_nothing_is_wrapped():
    seen: list[int] = []
    with DispatchCounter() as counter, counted_replays(torch.device("cpu"), counter, seen):
        torch.zeros(2).add_(1)
    assert seen == [] and counter.counts.by_op["add_"] == 1
