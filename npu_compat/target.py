"""Which device the shim targets, and what that device can do.

Order of resolution: explicit argument (``--device``), then ``NPU_COMPAT_DEVICE``,
then auto-detection in the order npu > cuda > xpu > mps > cpu.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from npu_compat import npu
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
    skipped: tuple[tuple[str, str], ...] = ()  # (device, why) for devices auto-selection passed over
    native_dtypes: tuple[torch.dtype, ...] | None = None  # autocast dtypes the hardware runs natively

    @property
    def native_autocast_dtypes(self) -> tuple[torch.dtype, ...]:
        """Low-precision dtypes this target computes natively (not emulated)."""
        return self.caps.autocast_dtypes if self.native_dtypes is None else self.native_dtypes

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
            "native_autocast_dtypes": [str(d).replace("torch.", "") for d in self.native_autocast_dtypes],
            "dist_backend": self.caps.dist_backend,
            **({"auto_skipped": dict(self.skipped)} if self.skipped else {}),
        }
        if self.type == "npu":  # "torch_npu X", or "simulated npu (torch_npu X)" and what hardware would refuse
            out["backend"] = npu.backend_label()
            out.update({"notes": list(npu.TARGET_NOTES)} if npu.TARGET_NOTES else {})
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
    if kind == "cpu" and idx and int(idx) != 0:
        raise TargetError(f"device '{spec}' does not exist: the cpu target has one device", "use --device cpu")
    return kind, int(idx) if idx else None


def cpu_native_dtypes(avx512_bf16: bool, amx_tile: bool, amx_fp16: bool) -> tuple[torch.dtype, ...]:
    """Which autocast dtypes a CPU runs natively, from its instruction-set probes.

    Without AVX512-BF16 or AMX, oneDNN emulates bf16 (a matmul is about 84x slower than fp32
    on an AVX2-only EPYC); fp16 is native only with AMX-FP16.
    """
    native: list[torch.dtype] = []
    if avx512_bf16 or amx_tile:
        native.append(torch.bfloat16)
    if amx_fp16:
        native.append(torch.float16)
    return tuple(native)


# oneDNN instruction-set caps (ONEDNN_MAX_CPU_ISA) below which bf16 / AMX are emulated even on a CPU that has them.
_ISA_WITHOUT_BF16 = frozenset({"sse41", "avx", "avx2", "avx2_vnni", "avx2_vnni_2", "avx512_core", "avx512_core_vnni"})
_ISA_WITHOUT_AMX = _ISA_WITHOUT_BF16 | {"avx512_core_bf16", "avx10_1_512", "avx512_core_fp16"}


def probe_cpu_native_dtypes(environ: Mapping[str, str] | None = None) -> tuple[torch.dtype, ...]:
    """The CPU's native autocast dtypes, as oneDNN will use it (``ONEDNN_MAX_CPU_ISA`` caps it)."""
    env = os.environ if environ is None else environ
    cap = (env.get("ONEDNN_MAX_CPU_ISA") or env.get("DNNL_MAX_CPU_ISA") or "").strip().lower()
    cpu = torch.cpu

    def probe(name: str) -> bool:
        fn = getattr(cpu, name, None)
        try:
            return bool(fn()) if fn is not None else False
        except Exception:
            return False

    no_bf16, no_amx = cap in _ISA_WITHOUT_BF16, cap in _ISA_WITHOUT_AMX
    return cpu_native_dtypes(probe("_is_avx512_bf16_supported") and not no_bf16,
                             probe("_is_amx_tile_supported") and not no_amx,
                             probe("_is_amx_fp16_supported") and not no_amx)


def _npu_probe() -> tuple[bool, str]:
    """(usable, why not). torch_npu not installed is not worth a word; any other failure is."""
    if npu.installed_torch_npu_version() is None:
        return False, ""
    try:
        npu.load_torch_npu()
        if bool(torch.npu.is_available()):  # type: ignore[attr-defined]
            return True, ""
        return False, "torch_npu loaded but sees no NPU"
    except Exception as err:  # a broken torch_npu is reported, never swallowed
        return False, f"torch_npu is installed but cannot be used: {str(err).splitlines()[0] if str(err) else type(err).__name__}"


def _available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "npu":
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
        skipped: list[tuple[str, str]] = []
        for kind in AUTO_ORDER:
            if kind == "npu":
                ok, why = _npu_probe()
                if why:
                    skipped.append((kind, why))
                    sys.stderr.write(f"npu_compat: auto device selection skipped npu: {why}\n")
            else:
                ok = _available(kind)
            if ok:
                break
        return _with_native(Target(kind, None, CAPABILITIES[kind], "auto", tuple(skipped)))
    if kind == "npu":
        npu.load_torch_npu()  # raises a one-line TargetError with the fix
    if not _available(kind):
        raise TargetError(
            f"device '{kind}' was requested ({source}) but torch {torch.__version__} cannot use it here",
            "check the driver and the torch build, or choose --device cpu",
        )
    return _with_native(Target(kind, index, CAPABILITIES[kind], source))


def _with_native(target: Target) -> Target:
    if target.type != "cpu":
        return target
    return Target(target.type, target.index, target.caps, target.source, target.skipped, probe_cpu_native_dtypes())
