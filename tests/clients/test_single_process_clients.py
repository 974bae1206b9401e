"""Real PyPI code written for CUDA (timm, accelerate, transformers) run unmodified under the shim.

Each script lives in ``scripts/`` and is run twice in a subprocess: through
``python -m npu_compat.apply`` (it must finish on the cpu target, and the report must show the
rules that carried it), and plainly (on this GPU-less host it must fail, so the test can fail).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import run_python

SCRIPTS = Path(__file__).parent / "scripts"


def _shimmed(script: str, tmp_path: Path, *options: str):
    report = tmp_path / "report.json"
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), *options, "--",
                      str(SCRIPTS / script))
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(report.read_text())
    fired = {c["rule"] for c in data["calls"] if c["file"] == str(SCRIPTS / script)}
    return proc, fired, data


def _fails_without_the_shim(script: str) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the plain run would succeed")
    proc = run_python(str(SCRIPTS / script))
    assert proc.returncode != 0, proc.stdout


def test_timm_training_utilities_with_amp(tmp_path):
    pytest.importorskip("timm")
    proc, fired, data = _shimmed("timm_amp_train.py", tmp_path, "--autocast", "keep")
    assert "trained 2 steps on cpu" in proc.stdout and "finite True" in proc.stdout
    assert {"cuda.is_available", "device.Module.cuda", "amp.autocast", "pin_memory.DataLoader",
            "cuda.synchronize", "cuda.max_memory_allocated"} <= fired, fired
    # timm's own CUDA code (PrefetchLoader's side stream, NativeScaler, ModelEmaV3) was reached too:
    timm_rules = {c["rule"] for c in data["calls"] if "/timm/" in c["file"]}
    assert {"cuda.stream", "cuda.current_stream", "amp.GradScaler", "device.Tensor.to"} <= timm_rules, timm_rules
    _fails_without_the_shim("timm_amp_train.py")


def test_accelerate_meta_init_then_materialise_on_cuda(tmp_path):
    pytest.importorskip("accelerate")
    proc, fired, _ = _shimmed("accelerate_meta_init.py", tmp_path)
    assert "meta init ok; materialised on cpu; same outputs True" in proc.stdout
    assert {"device.Module.to_empty", "device.Tensor.to", "device.torch.randn"} <= fired, fired
    _fails_without_the_shim("accelerate_meta_init.py")


def test_transformers_model_on_cuda_with_default_autocast(tmp_path):
    pytest.importorskip("transformers")
    proc, fired, data = _shimmed("transformers_tiny_bert.py", tmp_path)
    assert "bert on cpu, output (2, 8, 32)" in proc.stdout
    assert {"device.torch.randint", "device.torch.ones", "amp.autocast"} <= fired, fired
    in_transformers = {c["rule"] for c in data["calls"] if "/transformers/" in c["file"]}
    assert "device.Module.to" in in_transformers, in_transformers  # PreTrainedModel.to calls Module.to
    native = data["target"]["native_autocast_dtypes"]
    # no dtype means CUDA's fp16: kept where the host runs fp16 natively, else fp32 (never the cpu's bf16)
    assert proc.stdout.strip().endswith("float16" if "float16" in native else "float32"), proc.stdout
    _fails_without_the_shim("transformers_tiny_bert.py")
