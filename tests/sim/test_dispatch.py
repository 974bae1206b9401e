"""The simulated npu's dispatcher (a test double of the Ascend stack): device semantics as on
hardware, values as the host computes them, kernel coverage from torch_npu 2.7.1.post2's list."""
from __future__ import annotations

from textwrap import dedent

import pytest

from tests.sim.conftest import raises, run_sim

SAME_DEVICE = "Expected all tensors to be on the same device"


@pytest.fixture(scope="module")
def devices() -> dict:
    return run_sim(dedent("""
        a = torch.arange(6.0).reshape(2, 3).to("npu:1")
        b = torch.ones(2, 3, device="npu:0")
        out["a"] = [str(a.device), type(a).__name__, a.untyped_storage().data_ptr() != 0]
        out["b"] = str(b.device)
        out["sum"] = (a + 1).cpu().tolist()
        out["scalar"] = str((a * torch.tensor(2.0)).device)
        base = torch.zeros(2, 3, device="npu:1"); base[0].add_(5)
        out["view_write"] = base.cpu().tolist()
        with torch.npu.device(1):
            out["default_index"] = str(torch.empty(1, device="npu").device)
    """) + raises("a + b") + raises("a + torch.zeros(2, 3)") + raises("torch.zeros(2, 3) + a"))


def test_npu_indices_are_distinct_devices(devices):
    """Device tensors are plain tensors with real storage: the device is not a wrapper."""
    assert devices["a"] == ["npu:1", "Tensor", True] and devices["b"] == "npu:0"
    assert devices["default_index"] == "npu:1"


def test_values_are_the_host_computation(devices):
    assert devices["sum"] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert devices["view_write"] == [[5.0, 5.0, 5.0], [0.0, 0.0, 0.0]]


def test_cross_device_op_fails_as_on_hardware(devices):
    assert SAME_DEVICE in devices["a + b"] and "npu:0" in devices["a + b"] and "npu:1" in devices["a + b"]


def test_host_tensor_mixed_with_device_tensor_fails(devices):
    for expr in ("a + torch.zeros(2, 3)", "torch.zeros(2, 3) + a"):
        assert SAME_DEVICE in devices[expr] and "cpu" in devices[expr]
    assert devices["scalar"] == "npu:1"  # a 0-dim host tensor is a scalar, allowed as on CUDA and NPU


@pytest.fixture(scope="module")
def coverage() -> dict:
    code = dedent("""
        torch.manual_seed(0)
        x = torch.randn(4, 4).to("npu")
        sym = x @ x.T + torch.eye(4).to("npu")  # well conditioned: eigenvalues >= 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vals = torch.linalg.eigvalsh(sym)
        out["warning"] = [str(w.message) for w in caught]
        out["eig_device"] = str(vals.device)
        out["eig_close"] = bool(torch.allclose(vals.cpu(), torch.linalg.eigvalsh(sym.cpu()), rtol=1e-5, atol=1e-6))
        out["fallbacks"] = dict(__import__("npu_compat.sim.dispatch", fromlist=["STATE"]).STATE.fallbacks)
        d = torch.randn(3, 3, dtype=torch.float64).to("npu")
        img = torch.randn(1, 1, 4, 4).to("npu")
    """)
    for expr in ("d @ d", "torch.sort(d)", "torch.topk(x, 2, sorted=False)",
                 "torch.nn.functional.grid_sample(img.bfloat16(), torch.zeros(1, 2, 2, 2).to('npu').bfloat16())",
                 "torch.nn.functional.interpolate(img, scale_factor=2.0)",
                 "torch.nn.functional.interpolate(img, size=(8, 8))", "torch.topk(x, 2)"):
        code += raises(expr)
    return run_sim(code)


def test_missing_kernel_runs_on_cpu_with_torch_npu_warning(coverage):
    assert coverage["eig_device"] == "npu:0" and coverage["eig_close"]
    assert any("is not currently supported on the NPU backend and will fall back to run on the CPU" in w
               and "simulated npu (torch_npu 2.7.1.post2)" in w for w in coverage["warning"]), coverage["warning"]
    # decided where the device would run it: torch's CompositeExplicitAutogradNonFunctional kernel turns
    # _linalg_eigh into its out= form, which has no kernel in the list
    assert set(coverage["fallbacks"]) == {"aten::_linalg_eigh.eigenvalues"}


def test_fallback_disabled_makes_the_missing_kernel_an_error():
    out = run_sim("x = torch.randn(4, 4).to('npu')\n" + raises("torch.linalg.eigvalsh(x @ x.T)"),
                  env={"TORCH_NPU_FALLBACK_CPU_DISABLE": "1"})
    text = out["torch.linalg.eigvalsh(x @ x.T)"]
    assert "aten::_linalg_eigh" in text and "TORCH_NPU_FALLBACK_CPU_DISABLE=1" in text


@pytest.mark.parametrize("expr,limit", [
    ("d @ d", "matmul has no fp64"),
    ("torch.sort(d)", "sort has no fp64"),
    ("torch.topk(x, 2, sorted=False)", "topk has no sorted=False"),
    ("torch.nn.functional.grid_sample(img.bfloat16(), torch.zeros(1, 2, 2, 2).to('npu').bfloat16())",
     "grid_sample has no bf16"),
    ("torch.nn.functional.interpolate(img, scale_factor=2.0)", "interpolate does not take scale_factor"),
])
def test_documented_limits_are_errors(coverage, expr, limit):
    assert limit in coverage[expr], coverage[expr]


def test_calls_inside_the_limits_run(coverage):
    assert coverage["torch.nn.functional.interpolate(img, size=(8, 8))"] == "no error"
    assert coverage["torch.topk(x, 2)"] == "no error"


def test_in_place_shape_changes_reach_the_device_tensor():
    """squeeze_/unsqueeze_ (torch.quantile with keepdim=True squeezes in place) change the wrapper's
    shape as they change its host data's; the values stay the host's."""
    out = run_sim(dedent("""
        x = torch.arange(6.0).reshape(2, 3, 1).to("npu")
        x.squeeze_(2)
        out["squeezed"] = [list(x.shape), x.cpu().tolist()]
        x.unsqueeze_(0)
        out["unsqueezed"] = list(x.shape)
        c = torch.arange(12.0).reshape(2, 6, 1)
        out["quantile"] = [torch.quantile(c.to("npu"), 0.5, dim=1, keepdim=True).cpu().tolist(),
                           torch.quantile(c, 0.5, dim=1, keepdim=True).tolist()]
    """))
    assert out["squeezed"] == [[2, 3], [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]
    assert out["unsqueezed"] == [1, 2, 3]
    assert out["quantile"][0] == out["quantile"][1]


@pytest.fixture(scope="module")
def mixing() -> dict:
    """Host/device mixing on the simulated npu (a test double of the Ascend stack), as PyTorch's own device
    checks decide it on an accelerator: host index tensors allowed, host values and a host self refused."""
    code = dedent("""
        x = torch.arange(12.0).reshape(3, 4).to("npu")
        idx = torch.tensor([0, 2])
        out["host_index"] = [str(x[idx].device), x[idx].cpu().tolist()]
        y = x.clone(); y[idx] = torch.tensor(5.0)
        out["scalar_value"] = y.cpu()[0].tolist()
    """)
    for expr in ("torch.arange(12.0).reshape(3, 4)[idx.to('npu')]", "x.clone().index_put_((idx,), torch.ones(2, 4))",
                 "x.clone().index_put_((idx,), torch.ones(2, 4), accumulate=True)",
                 "x.clone().__setitem__(idx, torch.ones(2, 4))"):
        code += raises(expr)
    return run_sim(code)


def test_host_index_tensors_are_allowed(mixing):
    assert mixing["host_index"] == ["npu:0", [[0.0, 1.0, 2.0, 3.0], [8.0, 9.0, 10.0, 11.0]]]
    assert mixing["scalar_value"] == [5.0, 5.0, 5.0, 5.0]


@pytest.mark.parametrize("expr", ["torch.arange(12.0).reshape(3, 4)[idx.to('npu')]",
                                  "x.clone().index_put_((idx,), torch.ones(2, 4))",
                                  "x.clone().index_put_((idx,), torch.ones(2, 4), accumulate=True)",
                                  "x.clone().__setitem__(idx, torch.ones(2, 4))"])
def test_host_values_and_a_host_self_are_refused(mixing, expr):
    assert SAME_DEVICE in mixing[expr] and "cpu" in mixing[expr], mixing[expr]


def test_composites_are_decided_at_the_op_the_device_runs():
    """logcumsumexp decomposes to _logcumsumexp, which 2.7.1.post2 lacks: refused by name and release under
    TORCH_NPU_FALLBACK_CPU_DISABLE=1; cummax decomposes to _cummax_helper, which it has: runs."""
    out = run_sim("x = torch.randn(4, 3).to('npu')\n" + raises("torch.logcumsumexp(x, 0)")
                  + "out['cummax'] = torch.cummax(x, 0).values.cpu().tolist() == torch.cummax(x.cpu(), 0).values.tolist()\n",
                  env={"TORCH_NPU_FALLBACK_CPU_DISABLE": "1"})
    text = out["torch.logcumsumexp(x, 0)"]
    assert "aten::_logcumsumexp" in text and "torch_npu 2.7.1.post2" in text and "TORCH_NPU_FALLBACK_CPU_DISABLE=1" in text
    assert out["cummax"] is True


def test_boolean_mask_indexing_counts_a_sync():
    out = run_sim(dedent("""
        from npu_compat.sim import counters
        x = torch.arange(6.0).to("npu")
        counters.reset()
        picked = x[x > 2]
        out["syncs"] = counters.snapshot()["run"]["sync_by_kind"]
        out["picked"] = picked.cpu().tolist()
    """))
    assert out["picked"] == [3.0, 4.0, 5.0]
    assert out["syncs"] == {"index with a bool mask": 1}, out["syncs"]
