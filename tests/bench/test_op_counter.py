"""Tests for npu_compat.bench.op_counter: what counts as an op, a kernel, a host sync and host data in."""
from __future__ import annotations

import pytest
import torch

from npu_compat.bench.op_counter import DispatchCounter, count


def test_item_nonzero_and_bool_mask_index_are_syncs_with_their_call_site():
    x = torch.arange(6.0)
    with DispatchCounter() as counter:
        x.sum().item()
        x.nonzero()
        x[x > 2]
    counts = counter.counts
    assert counts.syncs == 3
    assert all("test_op_counter.py" in site for site in counts.sites)
    assert counts.by_op["nonzero"] == 1


def test_views_are_ops_but_not_kernels():
    x = torch.ones(4, 4)
    with DispatchCounter() as counter:
        x.view(16)
        x.t()
        x + 1
    assert counter.counts.ops == 3
    assert counter.counts.kernels == 1
    assert counter.counts.syncs == 0


def test_host_reads_count_once_per_host_copy_and_methods_are_restored():
    original = torch.Tensor.numpy
    x = torch.ones(3)
    with DispatchCounter(host_reads=True) as counter:
        x.cpu().numpy()  # one read: .cpu() is the copy, .numpy() of it is free
        x.tolist()  # the same host data: already there
        torch.zeros(2).tolist()  # new data: a second read
    assert counter.counts.syncs == 2
    assert torch.Tensor.numpy is original


def test_host_reads_are_not_counted_without_the_flag_or_while_paused():
    with DispatchCounter() as counter:
        torch.ones(3).tolist()
    assert counter.counts.syncs == 0
    with DispatchCounter(host_reads=True) as counter:
        with counter.pause():
            torch.ones(3).tolist()
            torch.ones(3).sum().item()
    assert counter.counts.syncs == 0 and counter.counts.ops == 0


def test_host_data_in_and_per_unit():
    counts, out = count(lambda: torch.tensor([1.0, 2.0]) * 2)
    assert out.tolist() == [2.0, 4.0]
    assert counts.copies_in == 1
    assert counts.per(2)["ops"] == counts.ops / 2


def test_the_simulated_npu_tally_reads_as_counts():
    counters = pytest.importorskip("npu_compat.sim.counters", reason="the simulated npu is not in this tree")
    from npu_compat.bench.op_counter import from_sim_tally

    tally = counters.Tally(ops=5, fallback_ops=2, h2d=3, d2h=1, syncs=4)
    tally.sync_by_kind["d2h copy"] += 1
    counts = from_sim_tally(tally)
    assert (counts.ops, counts.kernels, counts.syncs, counts.copies_in) == (7, 5, 4, 3)
    assert counts.sites["d2h copy"] == 1
