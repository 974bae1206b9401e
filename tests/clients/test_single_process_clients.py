"""Real code written for CUDA (timm, accelerate, transformers, nanoGPT's and pytorch/examples'
device lines) run unmodified under the shim.

Each script lives in ``scripts/`` and is run twice in a subprocess: through
``python -m npu_compat.apply`` (it must finish on the cpu target, and the report must show the
rules that carried it down its CUDA path), and plainly, where on this GPU-less host it must fail
inside the library's own code (torch, transformers...) with that library's error: no script
guards its own start.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from tests.conftest import run_python

SCRIPTS = Path(__file__).parent / "scripts"


def _shimmed(script: str, tmp_path: Path, *options: str, args: tuple[str, ...] = ()):
    report = tmp_path / "report.json"
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), *options, "--",
                      str(SCRIPTS / script), *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(report.read_text())
    fired = {c["rule"] for c in data["calls"] if c["file"] == str(SCRIPTS / script)}
    return proc, fired, data


NO_DRIVER = "Found no NVIDIA driver on your system"  # torch/cuda/__init__.py, _lazy_init


def _fails_without_the_shim(script: str, message: str = NO_DRIVER, library: str = "torch",
                            args: tuple[str, ...] = ()) -> None:
    """The plain run fails with ``library``'s own ``message``, raised in ``library``'s own code."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the plain run would succeed")
    proc = run_python(str(SCRIPTS / script), *args)
    assert proc.returncode != 0, proc.stdout
    assert message in proc.stderr, proc.stderr[-2000:]
    frames = re.findall(r'File "([^"]+)"', proc.stderr)
    assert frames and f"/site-packages/{library}/" in frames[-1], frames[-3:]  # raised there, not in the script


def test_timm_training_utilities_with_amp(tmp_path):
    pytest.importorskip("timm")
    proc, fired, data = _shimmed("timm_amp_train.py", tmp_path, "--autocast", "keep")
    assert "trained 2 steps on cpu" in proc.stdout and "finite True" in proc.stdout
    assert {"device.Module.cuda", "amp.autocast", "pin_memory.DataLoader", "cuda.manual_seed_all",
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


def test_nanogpt_compile_inside_bf16_autocast(tmp_path):
    """nanoGPT's defaults: bf16 autocast on "cuda" around a torch.compile'd model (dynamo checked
    that the global autocast state did not change while it traced; the shim's answer to
    ``is_autocast_enabled("cuda")`` used to make it fail)."""
    proc, fired, data = _shimmed("nanogpt_compile_autocast.py", tmp_path, "--autocast", "keep")
    assert "logits bfloat16 on cpu" in proc.stdout, proc.stdout
    assert {"cuda.is_available", "cuda.is_bf16_supported", "amp.autocast", "device.Module.to",
            "device.torch.randint", "amp.cuda.GradScaler"} <= fired, fired
    autocast = [c for c in data["calls"] if c["rule"] == "amp.autocast"]
    assert autocast[0]["old"] == "cuda/bfloat16" and autocast[0]["new"] == "cpu/bfloat16", autocast
    _fails_without_the_shim("nanogpt_compile_autocast.py")


def test_hf_trainer_with_bf16_training_arguments(tmp_path):
    pytest.importorskip("transformers")
    out = str(tmp_path / "trainer")
    proc, fired, data = _shimmed("hf_trainer_bf16.py", tmp_path, "--autocast", "keep", args=(out,))
    assert "trained 2 steps on cpu, n_gpu 0, bf16 True" in proc.stdout, proc.stdout
    assert "hf_trainer.TrainingArguments.bf16" in fired, fired
    _fails_without_the_shim("hf_trainer_bf16.py", "Your setup doesn't support bf16/gpu", "transformers", args=(out,))


def test_timm_sync_bn_under_torchrun_two_workers(tmp_path):
    """timm train.py's --sync-bn path: torchrun workers on cuda:LOCAL_RANK, nccl, SyncBatchNorm in DDP."""
    pytest.importorskip("timm")
    report = tmp_path / "report.json"
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), "-m", "torch.distributed.run",
                      "--nproc-per-node", "2", "--master-port", "29633", str(SCRIPTS / "timm_sync_bn_ddp.py"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(re.findall(r"rank (\d)/2 on cuda:\d: 14 SyncBatchNorm layers", proc.stdout)) == ["0", "1"], proc.stdout
    workers = [p for p in json.loads(report.read_text())["processes"] if "rank" in p["process"]]
    assert len(workers) == 2
    for worker in workers:
        rules = {c["rule"] for c in worker["calls"]}
        assert {"cuda.set_device", "dist.init_process_group", "device.Module.cuda", "dist.DDP.device_ids"} <= rules, rules
    plain = run_python("-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29634",
                       str(SCRIPTS / "timm_sync_bn_ddp.py"))
    if torch.cuda.is_available():
        return
    # the workers' init_process_group("nccl"), in torch/distributed/distributed_c10d.py
    assert plain.returncode != 0 and "ProcessGroupNCCL is only supported with GPUs, no GPUs found!" in plain.stderr, \
        plain.stderr[-4000:]


def test_one_process_per_gpu_with_device_count(tmp_path):
    """pytorch/examples' multigpu.py: world size = torch.cuda.device_count(); --device-count 2 offers two."""
    proc, fired, data = _shimmed("multigpu_spawn.py", tmp_path, "--device-count", "2", args=("29635",))
    assert "world size 2" in proc.stdout
    assert sorted(re.findall(r"\[GPU(\d)\] trained on cpu, current device (\d)", proc.stdout)) == [("0", "0"), ("1", "1")]
    assert "cuda.device_count" in fired, fired
    children = data["processes"]
    assert len(children) == 2 and all({"cuda.set_device", "dist.init_process_group"} <= {c["rule"] for c in child["calls"]}
                                      for child in children), children
    if torch.cuda.is_available():
        return
    plain = run_python(str(SCRIPTS / "multigpu_spawn.py"), "29636")  # torch's own count here: 0, so nothing trains
    assert plain.returncode == 0 and "world size 0" in plain.stdout and "[GPU" not in plain.stdout, plain.stdout
