"""Python-level fallback wrappers: every row the npu target installs stays scriptable.

The rows of the real table are installed for a cpu copy of themselves (the npu target needs
torch_npu; the wrapper code is the same), then code that calls each wrapped function is compiled
with ``torch.jit.script`` and run. Scripted code runs the original op; eager calls still fall back.
"""
from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision

import npu_compat
from npu_compat.fallbacks import install_fallbacks
from npu_compat.fallbacks.python_level import scriptable_wrapper
from npu_compat.fallbacks.table import FALLBACK_TABLE
from tests.conftest import run_python

GEN = torch.Generator().manual_seed(0)


def interpolate_call(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=[8, 8], mode="bilinear", align_corners=False)


def grid_sample_call(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(x, grid, align_corners=False)


def matmul_call(a: torch.Tensor) -> torch.Tensor:
    return torch.matmul(a, a)


def sort_call(a: torch.Tensor) -> torch.Tensor:
    return torch.sort(a)[0]


def topk_call(a: torch.Tensor) -> torch.Tensor:
    return torch.topk(a, 2)[0]


def roi_align_call(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    return torchvision.ops.roi_align(x, boxes, [2, 2])


def nms_call(boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    return torchvision.ops.nms(boxes, scores, 0.5)


def _inputs():
    x = torch.randn(1, 2, 4, 4, generator=GEN)
    boxes = torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0]])
    xyxy = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.1, 0.1, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0]])
    return {
        "interpolate.scale_factor": (interpolate_call, (x,)),
        "grid_sample.bf16": (grid_sample_call, (x, torch.rand(1, 3, 3, 2, generator=GEN) * 2 - 1)),
        "matmul.fp64": (matmul_call, (torch.randn(3, 3, generator=GEN),)),
        "sort.fp64": (sort_call, (torch.randn(5, generator=GEN),)),
        "topk.unsorted": (topk_call, (torch.randn(5, generator=GEN),)),
        "torchvision.roi_align": (roi_align_call, (x, boxes)),
        "torchvision.nms": (nms_call, (xyxy, torch.tensor([0.9, 0.8, 0.7]))),
    }


@pytest.fixture
def cpu_copy_of_the_table():
    npu_compat.revert()
    session = npu_compat.apply(device="cpu")
    try:
        install_fallbacks(session.patcher.ctx, session.patcher,
                          [dataclasses.replace(row, targets=("cpu",)) for row in FALLBACK_TABLE])
        yield session
    finally:
        npu_compat.revert()


def test_every_python_level_row_is_scriptable(cpu_copy_of_the_table):
    cases = _inputs()
    assert {row.op for row in FALLBACK_TABLE if row.level == "python"} == set(cases)
    assert F.interpolate.__module__ == "torch.nn.functional" and hasattr(F.interpolate, "__wrapped__")
    for op, (fn, args) in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script's deprecation notice
            scripted = torch.jit.script(fn)
        torch.testing.assert_close(scripted(*args), fn(*args), msg=op)


def test_eager_calls_still_fall_back_and_name_this_line(cpu_copy_of_the_table):
    x = torch.randn(1, 1, 4, 4, generator=GEN)
    out = F.interpolate(x, scale_factor=2)  # the row rewrites scale_factor to size
    assert out.shape == (1, 1, 8, 8)
    assert cpu_copy_of_the_table.report.fallbacks.counters["interpolate.scale_factor"].count == 1
    sites = [c for c in cpu_copy_of_the_table.report.calls() if c["rule"] == "fallback.interpolate.scale_factor"]
    assert sites and sites[0]["file"] == __file__


def test_a_wrapper_resolves_names_as_its_original():
    def original(x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)

    def wrapper(*args, **kwargs):
        return original(*args, **kwargs)

    wrapped = scriptable_wrapper(wrapper, F.relu)
    assert wrapped.__globals__ is F.relu.__globals__ and wrapped.__wrapped__ is F.relu
    assert scriptable_wrapper(wrapper, torch.matmul).__globals__ is wrapper.__globals__  # builtins: the patcher's job


def _build_on_simulated_npu(mode: str) -> dict:
    """Through ``python -m npu_compat.apply --device npu --simulate torch_npu==2.7.1.post2`` (the simulated
    npu, a test double of torch_npu + CANN + the chip): the npu target installs the real fallback table."""
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", "torch_npu==2.7.1.post2", "--",
                      str(Path(__file__).with_name("sam3_inst_build.py")), mode,
                      env={"CUDA_VISIBLE_DEVICES": ""}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sam3_inst_interactive_predictor_builds_on_the_simulated_npu():
    """Its constructor scripts torchvision's Resize, which calls the wrapped F.interpolate."""
    built = _build_on_simulated_npu("tiny")
    assert built["scripted"] == "RecursiveScriptModule" and built["device"] == "npu:0"
    side = built["shape"][-1]
    assert built["shape"] == [3, side, side] and built["finite"]


SAM2_HOWTO = ("sam2 is not installed: SAM2_BUILD_CUDA=0 .venv/bin/pip install --no-deps --no-build-isolation "
              "sam2==1.1.0 (what the CI script does)")


@pytest.mark.slow
def test_build_sam3_image_model_with_inst_interactivity_on_the_simulated_npu():
    """sam3's own builder at full size with random weights (about 4 GB; run under flock /tmp/fullsize.lock)."""
    built = _build_on_simulated_npu("full")
    assert built["scripted"] == "RecursiveScriptModule" and built["device"] == "npu:0"
    assert built["shape"] == [3, 1008, 1008] and built["finite"]


def test_sam2_image_predictor_builds_and_predicts_on_the_simulated_npu():
    """SAM2 (PyPI sam2==1.1.0, random weights) scripts its transforms in the predictor's constructor."""
    sam2 = pytest.importorskip("sam2", reason=SAM2_HOWTO)
    from tests.conftest import ROOT

    where = f"{ROOT}{os.pathsep}{Path(sam2.__file__).resolve().parents[1]}"  # sam2 wherever it is installed
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", "torch_npu==2.7.1.post2", "--",
                      str(Path(__file__).with_name("sam2_image_predictor.py")),
                      env={"CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": where}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SAM2 ok (3, 64, 80) (3,) npu:0" in proc.stdout
