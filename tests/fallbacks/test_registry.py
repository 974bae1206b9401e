"""Fallback registry: actions, conditions, counters, strict mode and --fallback-off, on the cpu target
with test-declared rows (nothing in the real table applies to cpu)."""
from __future__ import annotations

import json
import sys

import pytest
import torch
import torchvision

import npu_compat
from npu_compat.errors import FallbackError
from npu_compat.fallbacks import EXTRA_ENV
from npu_compat.fallbacks.registry import Action, FallbackRule, arg_given, dtype_in, map_tensors, run_fallback
from tests.conftest import ROOT, run_python

HERE = ROOT / "tests" / "fallbacks"


@pytest.fixture
def declared(monkeypatch):
    monkeypatch.setenv(EXTRA_ENV, "tests.fallbacks.declared_rows:FALLBACKS")
    npu_compat.revert()
    yield
    npu_compat.revert()


def _roi_inputs():
    gen = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 4, 20, 20, generator=gen)
    boxes = torch.tensor([[0, 1.0, 2.0, 11.0, 9.0], [1, 0.5, 0.5, 19.0, 15.5], [0, 3.0, 3.0, 4.0, 4.0]])
    return feat, boxes


def test_fallback_fires_counts_and_matches_direct_call(declared):
    feat, boxes = _roi_inputs()
    direct = torchvision.ops.roi_align(feat, boxes, output_size=5, spatial_scale=0.5, sampling_ratio=2)
    session = npu_compat.apply(device="cpu")
    assert torchvision.ops.roi_align is not torchvision.ops.roi_align.__wrapped__
    out = torchvision.ops.roi_align(feat, boxes, output_size=5, spatial_scale=0.5, sampling_ratio=2); line = sys._getframe().f_lineno  # noqa: E702
    torch.testing.assert_close(out, direct, rtol=0, atol=0)
    counter = session.report.fallbacks.counters["test.roi_align"]
    assert counter.count == 1 and counter.action == "cpu-and-back"
    assert counter.first_site["file"] == __file__ and counter.first_site["line"] == line
    torchvision.ops.roi_align(feat, boxes, output_size=5); line2 = sys._getframe().f_lineno  # noqa: E702
    assert counter.count == 2 and counter.first_site["line"] == line  # first site kept
    sites = [c for c in session.report.calls() if c["rule"] == "fallback.test.roi_align"]
    assert {s["line"] for s in sites} == {line, line2} and all(s["file"] == __file__ for s in sites)
    data = session.report.as_dict()["fallbacks"]
    assert data["test.roi_align"]["count"] == 2
    assert "fallback test.roi_align" in session.report.summary()


def test_condition_gates_the_fallback(declared):
    session = npu_compat.apply(device="cpu")
    x = torch.randn(1, 2, 6, 6)
    grid = torch.rand(1, 4, 4, 2) * 2 - 1
    torch.nn.functional.grid_sample(x, grid, align_corners=False)  # fp32: no fallback
    assert "test.grid_sample.bf16" not in session.report.fallbacks.counters
    out = torch.nn.functional.grid_sample(x.bfloat16(), grid.bfloat16(), align_corners=False)
    assert out.dtype == torch.bfloat16
    ref = torch.nn.functional.grid_sample.__wrapped__(x.bfloat16().float(), grid.bfloat16().float(), align_corners=False)
    torch.testing.assert_close(out, ref.bfloat16(), rtol=0, atol=0)
    assert session.report.fallbacks.counters["test.grid_sample.bf16"].count == 1


def test_strict_raises_naming_the_op(declared):
    npu_compat.apply(device="cpu", strict=True)
    feat, boxes = _roi_inputs()
    with pytest.raises(FallbackError, match="test.roi_align"):
        torchvision.ops.roi_align(feat, boxes, output_size=3)


def test_fallback_off_leaves_the_op_alone(declared):
    original = torchvision.ops.roi_align
    session = npu_compat.apply(device="cpu", strict=True, fallback_off=("test.roi_align",))
    assert torchvision.ops.roi_align is original
    feat, boxes = _roi_inputs()
    torchvision.ops.roi_align(feat, boxes, output_size=3)  # strict, but switched off: runs natively
    status = {r.key: r for r in session.report.rules}["fallback.test.roi_align"]
    assert status.status == "skipped" and "--fallback-off" in status.reason


def test_revert_restores_by_identity(declared):
    before = (torchvision.ops.roi_align, torch.nn.functional.grid_sample)
    npu_compat.apply(device="cpu")
    assert torchvision.ops.roi_align is not before[0]
    npu_compat.revert()
    assert (torchvision.ops.roi_align, torch.nn.functional.grid_sample) == before


def test_cli_counts_call_site_and_strict_fails(tmp_path):
    env = {EXTRA_ENV: "tests.fallbacks.declared_rows:FALLBACKS"}
    script = HERE / "roi_script.py"
    line = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if text.rstrip().endswith("# ROI_LINE"))
    report = tmp_path / "report.json"
    done = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), "--", str(script), env=env)
    assert done.returncode == 0, done.stderr
    assert "MAXDIFF 0.0" in done.stdout
    data = json.loads(report.read_text())
    fb = data["fallbacks"]["test.roi_align"]
    assert fb["count"] == 1 and fb["first_site"]["file"] == str(script) and fb["first_site"]["line"] == line
    strict = run_python("-m", "npu_compat.apply", "--device", "cpu", "--strict", "--", str(script), env=env)
    assert strict.returncode != 0 and "test.roi_align" in strict.stderr and "MAXDIFF" not in strict.stdout
    off = run_python("-m", "npu_compat.apply", "--device", "cpu", "--strict", "--fallback-off", "test.roi_align",
                     "--", str(script), env=env)
    assert off.returncode == 0 and "MAXDIFF 0.0" in off.stdout, off.stderr


def test_actions_directly():
    x = torch.arange(6.0).reshape(2, 3)
    row = FallbackRule("t", ("cpu",), Action.CAST_UP, "w", "c", cast=(torch.bfloat16,))
    out = run_fallback(row, lambda a: (a.dtype, a * 2), (x.bfloat16(),), {})
    assert out[0] == torch.float32 and out[1].dtype == torch.bfloat16
    rewrite = FallbackRule("t", ("cpu",), Action.REWRITE_ARGS, "w", "c", rewrite=lambda a, k: ((a[0] + 1,), k))
    assert run_fallback(rewrite, lambda v: v * 10, (1,), {}) == 20
    alt = FallbackRule("t", ("cpu",), Action.ALTERNATIVE, "w", "c", alternative=lambda v: -v)
    assert run_fallback(alt, lambda v: v, (3,), {}) == -3
    assert map_tensors({"a": [x, (x, 1)]}, lambda t: t.sum())["a"][1][1] == 1
    assert dtype_in(torch.float64)((x.double(),), {}) and not dtype_in(torch.float64)((x,), {})
    assert arg_given("scale_factor", 2)((x, None, 2.0), {}) and not arg_given("scale_factor", 2)((x,), {"size": 3})
    assert not arg_given("sorted", 4, unless=True)((x, 1), {"sorted": True})
