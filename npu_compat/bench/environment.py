"""What a benchmark ran on: machine, CPU flags, device, versions, date and the exact command."""
from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
from importlib import metadata
from typing import Any, Sequence

import torch

from npu_compat.sam3.revision import WHEEL, detect_revision

FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "neon", "sve")


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _sam3() -> str | None:
    """The installed sam3's version, or the upstream revision (``sam3@96914d2``) of a source tree on the path:
    a tree put first on ``PYTHONPATH`` runs, not the wheel whose metadata is installed."""
    revision = detect_revision()
    return _version("sam3") if revision in (None, WHEEL) else revision


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX-512 bf16 or AMX); emulated bf16 is ~80x slower."""
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if callable(check))


def describe(device: torch.device | str, argv: Sequence[str] | None = None) -> dict[str, Any]:
    model, flags = _cpuinfo()
    argv = list(sys.argv if argv is None else argv)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + shlex.join(argv) if argv else "",
        "machine": f"{platform.machine()} {model}",
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "cpu_flags": [f for f in FLAGS if f in flags],
        "native_bf16": native_bf16(),
        "device": str(device),
        "accelerator": torch.cuda.get_device_name(torch.device(device)) if torch.device(device).type == "cuda" else None,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "sam3": _sam3(),
        "transformers": _version("transformers"),
    }


__all__ = ["describe", "native_bf16", "FLAGS"]
