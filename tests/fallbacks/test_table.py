"""Every row of the real fallback table: its action gives the direct call's result (run here on
the CPU, where the ops exist), its condition picks exactly the calls it names, and it stays off
the cpu and cuda targets."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
import torchvision

import npu_compat
from npu_compat.fallbacks.registry import run_fallback
from npu_compat.fallbacks.table import FALLBACK_TABLE

ROWS = {row.op: row for row in FALLBACK_TABLE}
GEN = torch.Generator().manual_seed(0)


def test_rows_are_unique_documented_and_npu_only():
    assert len(ROWS) == len(FALLBACK_TABLE)
    for row in FALLBACK_TABLE:
        assert row.targets == ("npu",) and row.why and row.cost and row.owner and row.attr
    docs = (npu_compat.__path__[0] + "/../docs/fallbacks.md")
    text = open(docs).read()
    assert all(f"`{op}`" in text for op in ROWS), "docs/fallbacks.md lists every row"


def test_no_table_row_installs_on_cpu():
    npu_compat.revert()
    session = npu_compat.apply(device="cpu")
    try:
        assert F.interpolate.__module__ == "torch.nn.functional" and not hasattr(F.interpolate, "__wrapped__")
        assert not [r for r in session.report.rules if r.key.startswith("fallback.") and r.status == "installed"]
    finally:
        npu_compat.revert()


@pytest.mark.parametrize("scale,mode", [(2, "nearest"), ((2.0, 3.0), "bilinear"), (0.5, "bilinear"), (1.5, "nearest")])
def test_interpolate_scale_factor_rewrite(scale, mode):
    row = ROWS["interpolate.scale_factor"]
    x = torch.randn(2, 3, 7, 9, generator=GEN)
    args, kwargs = (x,), {"scale_factor": scale, "mode": mode}
    assert row.when(args, kwargs) and not row.when((x,), {"size": (4, 4)})
    got = run_fallback(row, F.interpolate, args, dict(kwargs))
    integer = all(float(s).is_integer() for s in (scale if isinstance(scale, tuple) else (scale,)))
    want = F.interpolate(x, scale_factor=scale, mode=mode, recompute_scale_factor=None if integer else True)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    positional = run_fallback(row, F.interpolate, (x, None, scale, mode), {})
    torch.testing.assert_close(positional, want, rtol=0, atol=0)


def test_grid_sample_bf16_cast_up():
    row = ROWS["grid_sample.bf16"]
    x = torch.randn(1, 2, 8, 8, generator=GEN).bfloat16()
    grid = (torch.rand(1, 5, 5, 2, generator=GEN) * 2 - 1).bfloat16()
    assert row.when((x, grid), {}) and not row.when((x.float(), grid.float()), {})
    got = run_fallback(row, F.grid_sample, (x, grid), {"align_corners": False})
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, F.grid_sample(x.float(), grid.float(), align_corners=False).bfloat16(), rtol=0, atol=0)


@pytest.mark.parametrize("op,fn", [("matmul.fp64", torch.matmul), ("sort.fp64", torch.sort)])
def test_fp64_cpu_and_back(op, fn):
    row = ROWS[op]
    a = torch.randn(4, 4, generator=GEN, dtype=torch.float64)
    args = (a, a.T) if op.startswith("matmul") else (a,)
    assert row.when(args, {}) and not row.when(tuple(t.float() for t in args), {})
    got, want = run_fallback(row, fn, args, {}), fn(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_topk_unsorted_rewrite():
    row = ROWS["topk.unsorted"]
    x = torch.randn(3, 50, generator=GEN)
    for args, kwargs in [((x, 5), {"sorted": False}), ((x, 5, -1, True, False), {})]:
        assert row.when(args, kwargs)
        values, indices = run_fallback(row, torch.topk, args, dict(kwargs))
        ref = torch.topk(x, 5, sorted=True)
        torch.testing.assert_close(values, ref.values, rtol=0, atol=0)
        torch.testing.assert_close(indices, ref.indices, rtol=0, atol=0)
    assert not row.when((x, 5), {}) and not row.when((x, 5), {"sorted": True})


def test_roi_align_and_nms_cpu_and_back():
    feat = torch.randn(1, 2, 10, 10, generator=GEN)
    boxes = torch.tensor([[0, 0.0, 0.0, 5.0, 5.0], [0, 2.0, 3.0, 9.0, 8.0]])
    got = run_fallback(ROWS["torchvision.roi_align"], torchvision.ops.roi_align, (feat, boxes, 3), {})
    torch.testing.assert_close(got, torchvision.ops.roi_align(feat, boxes, 3), rtol=0, atol=0)
    xyxy = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    kept = run_fallback(ROWS["torchvision.nms"], torchvision.ops.nms, (xyxy, scores, 0.5), {})
    assert kept.tolist() == torchvision.ops.nms(xyxy, scores, 0.5).tolist() == [0, 2]


def test_rows_install_on_a_cpu_copy_and_revert():
    """The python-level plumbing of each real row, installed for a cpu copy of the row."""
    from npu_compat.fallbacks import install_fallbacks

    originals = {row.op: getattr(__import__(row.owner, fromlist=["_"]), row.attr) for row in FALLBACK_TABLE}
    npu_compat.revert()
    session = npu_compat.apply(device="cpu")
    try:
        ctx = session.patcher.ctx
        install_fallbacks(ctx, session.patcher, [dataclasses.replace(r, targets=("cpu",)) for r in FALLBACK_TABLE])
        x = torch.randn(1, 1, 4, 4, generator=GEN)
        torch.testing.assert_close(F.interpolate(x, scale_factor=2), x.repeat_interleave(2, 2).repeat_interleave(2, 3))
        torch.topk(torch.arange(10.0), 3, sorted=False)
        counters = session.report.fallbacks.counters
        assert counters["interpolate.scale_factor"].count == 1 and counters["topk.unsorted"].count == 1
    finally:
        npu_compat.revert()
    for row in FALLBACK_TABLE:
        assert getattr(__import__(row.owner, fromlist=["_"]), row.attr) is originals[row.op]


@pytest.mark.parametrize("release,expected", [
    ("2.7.1.post2", {"interpolate.scale_factor", "grid_sample.bf16", "matmul.fp64", "sort.fp64", "topk.unsorted"}),
    ("2.14.0", set()),  # no documented limits read for it: only the missing-kernel rows
])
def test_limit_rows_install_only_for_releases_whose_limits_table_has_them(monkeypatch, release, expected):
    """The npu target's rows read the one limits table (npu_compat.npu_releases.limits) by release."""
    from types import SimpleNamespace

    from npu_compat.fallbacks import fallback_rules
    from npu_compat.fallbacks.registry import FallbackRegistry
    from npu_compat.npu_releases.limits import BY_NAME

    monkeypatch.setenv("NPU_COMPAT_SIMULATE", f"torch_npu=={release}")
    ctx = SimpleNamespace(target=SimpleNamespace(type="npu"), options=SimpleNamespace(fallback_off=()),
                          report=SimpleNamespace(rules=[]))
    rules = fallback_rules(ctx, FallbackRegistry("npu", torch.device("cpu")), FALLBACK_TABLE)
    installed = {rule.key.removeprefix("fallback.").split("@")[0] for rule in rules}
    limited = {row.op for row in FALLBACK_TABLE if row.limit}
    assert installed & limited == expected
    assert {"torchvision.roi_align", "torchvision.nms"} <= installed
    assert {s.key.removeprefix("fallback.") for s in ctx.report.rules} == limited - expected
    for row in FALLBACK_TABLE:
        if row.limit:
            assert BY_NAME[row.limit].text in row.why
