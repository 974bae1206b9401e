"""What counts as a host sync: one definition that the bench counter and the simulated npu share."""
from __future__ import annotations

import torch

from npu_compat.host_syncs import sync_kind


def test_scalar_reads_and_data_dependent_shapes_are_syncs() -> None:
    assert sync_kind("_local_scalar_dense", (torch.ones(()),)) == "_local_scalar_dense"
    assert sync_kind("nonzero", (torch.ones(3),)) == "nonzero"
    assert sync_kind("add", (torch.ones(3), torch.ones(3))) is None


def test_indexing_syncs_only_with_a_boolean_mask() -> None:
    x = torch.arange(4.0)
    assert sync_kind("index", (x, [x > 1])) == "index with a bool mask"
    assert sync_kind("index_put_", (x, [x > 1], torch.tensor(0.0))) == "index_put_ with a bool mask"
    assert sync_kind("index", (x, [torch.tensor([0, 2])])) is None
