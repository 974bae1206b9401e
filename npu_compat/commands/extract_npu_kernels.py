#!/usr/bin/env python3
"""Extract the list of aten ops with NPU kernels from a torch_npu wheel or installation.

Reads torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml (the wheel is read as a zip,
never installed or imported) and writes npu_compat/data/npu_kernels/torch_npu-<version>.json
with the wheel's file name, sha256 and the extraction date.

Examples:
  extract-npu-kernels --download 2.7.1.post2        # pip download, then extract
  extract-npu-kernels torch_npu-2.14.0-cp311-...whl  # a wheel you already have
  extract-npu-kernels /usr/lib/python3.11/site-packages/torch_npu
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from npu_compat.errors import KernelListError, NpuCompatError
from npu_compat.npu_kernels import DATA_DIR, extract_kernel_list, save_kernel_list
from npu_compat.workloads.cli_parser import OneLineParser, fail
from npu_compat.workloads.inputs import check_output_dir

PROG = "extract-npu-kernels"


def download_wheel(version: str, folder: Path) -> Path:
    """``pip download`` one torch_npu wheel (x86_64, CPython 3.11; the yaml is the same on aarch64)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", f"torch_npu=={version}",
               "--platform", "manylinux_2_28_x86_64", "--only-binary=:all:", "--python-version", "3.11",
               "-d", str(folder), "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(folder.glob(f"torch_npu-{version}-*.whl"))
    if done.returncode != 0 or not wheels:
        raise KernelListError(f"pip could not download torch_npu=={version}: "
                          f"{(done.stderr.strip().splitlines() or ['no wheel'])[-1]}")
    return wheels[0]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", help="torch_npu .whl files or installed torch_npu folders")
    parser.add_argument("--download", action="append", default=[], metavar="VERSION",
                        help="pip-download this torch_npu version from PyPI first (repeatable)")
    parser.add_argument("--out-dir", default=str(DATA_DIR), help=f"where to write the JSON (default {DATA_DIR})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.sources and not args.download:
        parser.error("give a wheel/folder or --download VERSION")
    try:
        check_output_dir(args.out_dir, "--out-dir")
        for source in args.sources:
            if not Path(source).exists():
                raise KernelListError(f"{source} does not exist", "pass a torch_npu .whl file or installed folder")
        with tempfile.TemporaryDirectory(prefix="torch_npu_wheel_") as tmp:
            sources = [Path(s) for s in args.sources] + [download_wheel(v, Path(tmp)) for v in args.download]
            for source in sources:
                kernels = extract_kernel_list(source)
                out = save_kernel_list(kernels, args.out_dir)
                print(f"torch_npu {kernels.version}: {len(kernels.overloads)} op overloads, "
                      f"{len(kernels.base_names)} base names -> {out}")
    except NpuCompatError as err:
        return fail(PROG, err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
