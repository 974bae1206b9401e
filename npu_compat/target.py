"""Which device the shim targets, and what that device can do.

Order of resolution: explicit argument (``--device``), then ``NPU_COMPAT_DEVICE``,
then auto-detection in the order npu > cuda > xpu > mps > cpu.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from npu_compat.errors import TargetError

KNOWN_DEVICES = ("npu", "cuda", "xpu", "mps", "cpu")
AUTO_ORDER = KNOWN_DEVICES
ENV_VAR = "NPU_COMPAT_DEVICE"


@dataclass(frozen=True)
class Capabilities:
    """What a device type supports, as far as the shim's rules care."""

    pin_memory: bool
    autocast_dtypes: tuple[torch.dtype, ...]
    dist_backend: str
    has_device_module: bool


CAPABILITIES: Mapping[str, Capabilities] = {
    "npu": Capabilities(True, (torch.float16, torch.bfloat16), "hccl", True),
    "cuda": Capabilities(True, (torch.float16, torch.bfloat16), "nccl", True),
    "xpu": Capabilities(True, (torch.float16, torch.bfloat16), "xccl", True),
    "mps": Capabilities(False, (torch.float16, torch.bfloat16), "gloo", True),
    "cpu": Capabilities(False, (torch.bfloat16, torch.float16), "gloo", False),
}


@dataclass(frozen=True)
class Target:
    """The device the shim sends CUDA work to."""

    type: str
    index: int | None = None
    caps: Capabilities = field(default=CAPABILITIES["cpu"])
    source: str = "auto"  # "argument", "environment" or "auto"

    @property
    def is_accelerator(self) -> bool:
        return self.type != "cpu"

    @property
    def module(self) -> Any:
        """The torch device module (``torch.npu``, ``torch.xpu``...), or None for cpu."""
        return getattr(torch, self.type, None) if self.caps.has_device_module else None

    def device(self, index: int | None = None) -> torch.device:
        if self.type == "cpu":
            return torch.device("cpu")
        idx = self.index if index is None else index
        return torch.device(self.type, idx) if idx is not None else torch.device(self.type)

    def describe(self) -> dict[str, Any]:
        out = {
            "device": str(self.device()),
            "source": self.source,
            "pin_memory": self.caps.pin_memory,
            "autocast_dtypes": [str(d).replace("torch.", "") for d in self.caps.autocast_dtypes],
            "dist_backend": self.caps.dist_backend,
        }
        if self.type == "npu":  # "torch_npu X", or "simulated npu (torch_npu X)" and what hardware would refuse
            from npu_compat import npu

            out["backend"] = npu.backend_label()
            out.update({"notes": list(npu.PAIR_NOTES)} if npu.PAIR_NOTES else {})
        return out


def parse_device(spec: str) -> tuple[str, int | None]:
    """Split ``"npu:1"`` into ``("npu", 1)``; refuse anything not in KNOWN_DEVICES."""
    text = spec.strip().lower()
    kind, _, idx = text.partition(":")
    if kind not in KNOWN_DEVICES or (idx and not idx.isdigit()):
        raise TargetError(
            f"unknown device '{spec}'",
            f"use one of {', '.join(KNOWN_DEVICES)} (optionally with an index, e.g. npu:1)",
        )
    return kind, int(idx) if idx else None


def _available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "npu":
        from npu_compat import npu

        return npu.npu_available()
    module = getattr(torch, kind, None)
    probe = getattr(module, "is_available", None)
    try:
        return bool(probe()) if probe is not None else False
    except Exception:  # a broken backend is an unavailable one
        return False


def resolve_target(requested: str | None = None, environ: Mapping[str, str] | None = None) -> Target:
    """Find the target device: argument, then ``NPU_COMPAT_DEVICE``, then auto-detect."""
    env = os.environ if environ is None else environ
    if requested:
        kind, index = parse_device(requested)
        source = "argument"
    elif env.get(ENV_VAR):
        kind, index = parse_device(env[ENV_VAR])
        source = "environment"
    else:
        kind = next(k for k in AUTO_ORDER if _available(k))
        return Target(kind, None, CAPABILITIES[kind], "auto")
    if kind == "npu":
        from npu_compat import npu

        npu.load_torch_npu()  # raises a one-line TargetError with the fix
    if not _available(kind):
        raise TargetError(
            f"device '{kind}' was requested ({source}) but torch {torch.__version__} cannot use it here",
            "check the driver and the torch build, or choose --device cpu",
        )
    return Target(kind, index, CAPABILITIES[kind], source)
