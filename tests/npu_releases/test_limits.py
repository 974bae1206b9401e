"""The one table of documented torch_npu limits, by release."""
import pytest
import torch

from npu_compat.npu_releases.kernels import available_versions
from npu_compat.npu_releases.limits import BY_NAME, LIMITS, find_limit, limits_for, tensor_dtypes

aten = torch.ops.aten


def test_rows_name_real_aten_ops_and_known_releases():
    assert len(BY_NAME) == len(LIMITS)
    releases = set(available_versions())
    for row in LIMITS:
        for op in row.ops:
            assert hasattr(aten, op), (row.name, op)
        assert set(row.releases) <= releases and row.source and row.text and row.fix


def test_rows_hold_only_for_the_releases_they_name():
    assert {row.name for row in limits_for("2.7.1.post2")} == set(BY_NAME)
    assert limits_for("2.7.1") == limits_for("2.7.1.post2")
    assert limits_for("2.14.0") == ()  # its tables have not been read
    assert limits_for(None) == LIMITS  # an unknown release: every row


@pytest.mark.parametrize("base,tensors,bound,name", [
    ("mm", [torch.ones(1, dtype=torch.float64)], {}, "matmul-fp64"),
    ("sort", [torch.ones(1, dtype=torch.float64)], {}, "sort-fp64"),
    ("grid_sampler_2d", [torch.ones(1, dtype=torch.bfloat16)], {}, "grid_sample-bf16"),
    ("topk", [torch.ones(1)], {"sorted": False}, "topk-unsorted"),
    ("_upsample_nearest_exact2d", [torch.ones(1)], {"scale_factors": [2.0, 2.0]}, "interpolate-scale_factor"),
    ("upsample_bilinear2d", [torch.ones(1)], {"scales_h": 2.0}, "interpolate-scale_factor"),
    ("reflection_pad2d", [torch.ones(1, dtype=torch.bfloat16)], {}, "pad-nonconstant-dtype"),
    ("replication_pad1d", [torch.ones(1, dtype=torch.float64)], {}, "pad-nonconstant-dtype"),
    ("sort_", [torch.ones(1, dtype=torch.float64)], {}, "sort-fp64"),  # in-place names match their op
    ("mm", [torch.ones(1)], {}, None),
    ("topk", [torch.ones(1)], {"sorted": True}, None),
    ("upsample_bilinear2d", [torch.ones(1)], {"output_size": [4, 4], "scales_h": None}, None),
    ("reflection_pad2d", [torch.ones(1, dtype=torch.float16)], {}, None),
])
def test_calls_refused_by_the_2_7_1_tables(base, tensors, bound, name):
    row = find_limit("2.7.1.post2", base, tensor_dtypes(tensors), bound)
    assert (row.name if row else None) == name
    assert find_limit("2.14.0", base, tensor_dtypes(tensors), bound) is None
