"""Fetch a torch_npu wheel from PyPI and read a release's data out of it (kernel list and API
surface). The wheel is read as a zip, never installed or imported: importing torch_npu needs CANN.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from npu_compat.errors import KernelListError
from npu_compat.npu_releases import kernels, surface


def download_wheel(version: str, folder: Path) -> Path:
    """``pip download`` one torch_npu wheel (x86_64, CPython 3.11; the Python sources and the op yaml
    are the same in the aarch64 wheel)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", f"torch_npu=={version}",
               "--platform", "manylinux_2_28_x86_64", "--only-binary=:all:", "--python-version", "3.11",
               "-d", str(folder), "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(folder.glob(f"torch_npu-{version}-*.whl"))
    if done.returncode != 0 or not wheels:
        raise KernelListError(f"pip could not download torch_npu=={version}: "
                              f"{(done.stderr.strip().splitlines() or ['no wheel'])[-1]}")
    return wheels[0]


@dataclass
class Extracted:
    version: str
    kernels: Path
    surface: Path
    summary: str


def extract_release(source: Path, kernels_dir: Path | str = kernels.DATA_DIR,
                    surface_dir: Path | str = surface.DATA_DIR) -> Extracted:
    """Write the kernel list and the API surface of the torch_npu wheel or folder ``source``."""
    found_kernels = kernels.extract_kernel_list(source)
    found_surface = surface.extract_surface(source)
    kernels_out = kernels.save_kernel_list(found_kernels, kernels_dir)
    surface_out = surface.save_surface(found_surface, surface_dir)
    summary = (f"torch_npu {found_kernels.version}: {len(found_kernels.overloads)} op overloads, "
               f"{len(found_kernels.base_names)} base names -> {kernels_out}; "
               f"{len(found_surface.npu_names())} torch_npu.npu names -> {surface_out}")
    return Extracted(found_kernels.version, kernels_out, surface_out, summary)


__all__ = ["download_wheel", "extract_release", "Extracted"]
