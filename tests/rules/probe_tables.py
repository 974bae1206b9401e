"""Run the shim's tables in whatever torch this Python has, and print what happened as JSON.

Used by test_torch_next.py with another environment's Python (``NPU_COMPAT_NEXT_TORCH_PYTHON``).
"""
import json
import sys
import time

import torch

import npu_compat

start = time.perf_counter()
session = npu_compat.apply(device="cpu")
apply_ms = (time.perf_counter() - start) * 1000
checks = {}
with torch.device("meta"):
    checks["meta_context"] = torch.nn.Linear(2, 2).weight.device.type
checks["zeros_cuda"] = torch.zeros(1, device="cuda").device.type
checks["fftfreq_cuda"] = torch.fft.fftfreq(2, device="cuda").device.type
checks["accelerator"] = [torch.accelerator.is_available(), str(torch.accelerator.current_accelerator())]
checks["generator"] = isinstance(torch.Generator(device="cuda"), torch.Generator)
checks["legacy"] = str(torch.cuda.FloatTensor(2).dtype)
with torch.autocast("cuda", dtype=torch.bfloat16):
    checks["autocast"] = str((torch.ones(2, 2) @ torch.ones(2, 2)).dtype)
from npu_compat.rules.device_params import find_device_params  # noqa: E402

print(json.dumps({
    "torch": torch.__version__,
    "apply_ms": apply_ms,
    "rules": len(session.report.rules),
    "skipped": {r.key: r.reason for r in session.report.rules if r.status == "skipped"},
    "device_params": sorted(p.path for p in find_device_params()),
    "cuda_names": sorted(getattr(torch.cuda, "__all__", [])),
    "accelerator_names": sorted(getattr(torch.accelerator, "__all__", [])),
    "native": session.report.target.get("native_autocast_dtypes"),
    "checks": checks,
}))
npu_compat.revert()
sys.exit(0)
