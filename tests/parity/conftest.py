"""Fixtures for the parity tests: tiny SAM3 inventories captured once per session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_inventory_fp32():
    """Every aten op of a tiny SAM3 image run (image, text, box, batched prompts) on the CPU, fp32."""
    from npu_compat.parity.sam3_runs import capture_sam3

    return capture_sam3("tiny", "cpu")


@pytest.fixture(scope="session")
def tiny_inventory_bf16():
    """The same runs under CPU bf16 autocast: the ops a bf16 device run executes, in their dtypes."""
    from npu_compat.parity.sam3_runs import capture_sam3

    return capture_sam3("tiny", "cpu", autocast_bf16=True)


# A toy model dumped by msprobe in a process of its own (msprobe's debugger is one per process and
# hooks torch for good), through the shim for the given device, optionally with a planted fault.
TOY_DUMP = """
import contextlib, sys, torch, npu_compat
from npu_compat.parity.msprobe_dump import dumping
from npu_compat.parity.planted_faults import planted_fault
path, device, fault = sys.argv[1], sys.argv[2], sys.argv[3]
npu_compat.apply(device=device)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.LayerNorm(32), torch.nn.ReLU(),
                            torch.nn.Linear(32, 8), torch.nn.Softmax(dim=-1)).to(device)
x = torch.randn(4, 16, device=device)
wrong = planted_fault(fault, torch.float32) if fault != "none" else contextlib.nullcontext()
with wrong, dumping(path, model), torch.no_grad():
    model(x)
"""


def dump_toy(path, device="cpu", fault="none", env=None):
    """Run TOY_DUMP; the finished subprocess (msprobe logs on stdout, errors on stderr)."""
    from tests.conftest import run_python

    return run_python("-c", TOY_DUMP, str(path), device, fault, env=env, timeout=300)


@pytest.fixture(scope="session")
def toy_dumps(tmp_path_factory):
    """msprobe dumps of the toy model on the cpu target: golden, a second clean run, a run whose fp32
    layer_norm kernel is planted wrong (eps + 1e-2) and one whose softmax normalises the wrong dim."""
    root = tmp_path_factory.mktemp("toy_dumps")
    for name, fault in (("golden", "none"), ("clean", "none"), ("fault", "layer_norm_eps"),
                        ("softmax_fault", "softmax_wrong_dim")):
        done = dump_toy(root / name, fault=fault)
        assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="session")
def tiny_msprobe_runs(tmp_path_factory):
    """``parity e2e --model tiny --msprobe-dir`` on the cpu target: a clean run (both sides dumped),
    and a run with the planted layer_norm fault that reuses the clean run's golden dump."""
    from npu_compat.parity.__main__ import main

    root = tmp_path_factory.mktemp("tiny_msprobe")
    codes = {"clean": main(["e2e", "--model", "tiny", "--msprobe-dir", str(root / "clean")])}
    codes["fault"] = main(["e2e", "--model", "tiny", "--msprobe-dir", str(root / "fault"), "--plant-fault",
                           "layer_norm_eps", "--golden-dump", str(root / "clean" / "golden")])
    return root, codes
