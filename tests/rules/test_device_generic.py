"""torch.accelerator, get_device_module, Stream / Event / Generator with "cuda" (cpu target)."""
from __future__ import annotations

import pytest
import torch

from npu_compat.rules.device_generic import device_generic_rules
from npu_compat.target import CAPABILITIES, Target

ACCELERATOR_SCRIPT = '''
import torch
# the pattern of current pytorch/examples: the device-generic API, no torch.cuda
use_acc = torch.accelerator.is_available()
device = torch.accelerator.current_accelerator() if use_acc else torch.device("cpu")
torch.accelerator.set_device_index(0)
model = torch.nn.Linear(4, 2).to(device)
x = torch.randn(8, 4, device=device)
with torch.autocast(device.type, dtype=torch.bfloat16, enabled=False):
    y = model(x)
torch.accelerator.synchronize()
stream = torch.accelerator.current_stream()
print("branch", "accelerator" if use_acc else "cpu", "on", y.device.type, "count", torch.accelerator.device_count())
'''


def test_accelerator_script_takes_its_accelerator_branch(tmp_path):
    from tests.conftest import run_python

    script = tmp_path / "acc.py"
    script.write_text(ACCELERATOR_SCRIPT)
    report = tmp_path / "r.json"
    shimmed = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), "--", str(script))
    assert shimmed.returncode == 0, shimmed.stderr
    assert "branch accelerator on cpu count 1" in shimmed.stdout
    import json

    fired = {c["rule"] for c in json.loads(report.read_text())["calls"]}
    assert {"accelerator.is_available", "accelerator.current_accelerator", "accelerator.set_device_index",
            "accelerator.synchronize", "device.Module.to"} <= fired
    if not torch.cuda.is_available():
        plain = run_python(str(script))
        # without the shim: the CPU branch, or a CUDA driver error at set_device_index
        assert "branch accelerator" not in plain.stdout
        assert "branch cpu" in plain.stdout or (plain.returncode != 0 and "NVIDIA" in plain.stderr), plain.stderr


def test_accelerator_answers_like_torch_cuda(shim_cpu):
    assert torch.accelerator.is_available() is True
    assert torch.accelerator.current_accelerator() == torch.device("cuda")
    assert torch.accelerator.device_count() == 1 and torch.accelerator.current_device_index() == 0
    torch.accelerator.set_device_index(0)
    torch.accelerator.synchronize()
    with torch.accelerator.device_index(0):
        pass
    assert isinstance(torch.accelerator.current_stream(), torch.Stream)
    assert torch.accelerator.memory_allocated() > 0
    free, total = torch.accelerator.get_memory_info()
    assert 0 < free <= total


def test_torch_internals_get_the_truth(shim_cpu):
    namespace = {"__name__": "torch.utils.data.dataloader", "torch": torch}
    exec("def probe():\n    return torch.accelerator.is_available(), torch.accelerator.current_accelerator()\n", namespace)
    available, acc = namespace["probe"]()
    assert available is False  # no GPU here; torch must not be told otherwise
    if not torch.cuda.is_available():
        assert acc is None or acc.type == "cuda"


def test_generator_event_stream_keep_isinstance(shim_cpu):
    g = torch.Generator(device="cuda")
    assert g.device.type == "cpu" and isinstance(g, torch.Generator) and isinstance(g, torch._C.Generator)
    g.manual_seed(1)
    a = torch.rand(3, generator=g, device="cuda")
    assert torch.equal(a, torch.rand(3, generator=torch.Generator().manual_seed(1)))
    e, f = torch.Event(device="cuda", enable_timing=True), torch.Event(device="cuda", enable_timing=True)
    assert isinstance(e, torch.Event) and e.device.type == "cpu"
    s = torch.Stream(device="cuda:0")
    assert isinstance(s, torch.Stream) and s.device.type == "cpu"
    e.record(s)
    f.record(s)
    f.synchronize()
    assert e.elapsed_time(f) >= 0 and s.query()  # torch's own CPU events cannot record
    from npu_compat import cpu_standins

    assert not isinstance(torch.Event(device="cpu"), cpu_standins.Event)  # the script named the cpu: torch's own
    assert issubclass(torch._C.Generator, torch.Generator)
    assert torch.Stream().device.type == "cpu" and torch.Event().device.type == "cpu"  # no device: the target's
    assert torch.Generator("cpu").device.type == "cpu"  # a device the user names is left alone
    sites = {c["rule"] for c in shim_cpu.report.calls() if c["file"] == __file__}
    assert {"device.torch.Generator", "device.torch.Event", "device.torch.Stream"} <= sites


def test_get_device_module_on_cpu_is_the_shimmed_torch_cuda(shim_cpu):
    mod = torch.get_device_module("cuda")
    assert mod is torch.cuda and mod.device_count() == 1


def test_accelerator_targets_only_map_cuda_values():
    rules = device_generic_rules(Target("xpu", None, CAPABILITIES["xpu"]))
    keys = {r.key for r in rules}
    assert "device.torch.get_device_module" in keys and not any(k.startswith("accelerator.") for k in keys)
    assert device_generic_rules(Target("cuda", None, CAPABILITIES["cuda"])) == []


def test_revert_restores_the_classes():
    import npu_compat

    real = (torch.Generator, torch.Event, torch.Stream, torch.accelerator.is_available)
    npu_compat.revert()
    npu_compat.apply(device="cpu")
    assert torch.Generator is not real[0]
    npu_compat.revert()
    assert (torch.Generator, torch.Event, torch.Stream, torch.accelerator.is_available) == real
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            torch.Generator(device="cuda")
