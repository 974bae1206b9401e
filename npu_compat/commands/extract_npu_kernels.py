#!/usr/bin/env python3
"""Extract what a torch_npu release has from its wheel or installation: the aten ops with NPU
kernels and the Python API surface (torch_npu.npu's names and the module paths other tools import).

Reads torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml and the Python sources (the wheel
is read as a zip, never installed or imported) and writes
npu_compat/data/npu_kernels/torch_npu-<version>.json and
npu_compat/data/torch_npu_surface/torch_npu-<version>.json, each with the wheel's file name,
sha256 and the extraction date.

Examples:
  extract-npu-kernels --download 2.7.1.post2        # pip download, then extract
  extract-npu-kernels torch_npu-2.14.0-cp311-...whl  # a wheel you already have
  extract-npu-kernels /usr/lib/python3.11/site-packages/torch_npu
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from npu_compat.errors import KernelListError, NpuCompatError
from npu_compat.npu_releases import kernels, surface
from npu_compat.npu_releases.wheels import download_wheel, extract_release
from npu_compat.workloads.cli_parser import OneLineParser, fail
from npu_compat.workloads.inputs import check_output_dir

PROG = "extract-npu-kernels"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", help="torch_npu .whl files or installed torch_npu folders")
    parser.add_argument("--download", action="append", default=[], metavar="VERSION",
                        help="pip-download this torch_npu version from PyPI first (repeatable)")
    parser.add_argument("--out-dir", default=str(kernels.DATA_DIR),
                        help=f"where to write the kernel list (default {kernels.DATA_DIR})")
    parser.add_argument("--surface-dir", default=str(surface.DATA_DIR),
                        help=f"where to write the API surface (default {surface.DATA_DIR})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.sources and not args.download:
        parser.error("give a wheel/folder or --download VERSION")
    try:
        check_output_dir(args.out_dir, "--out-dir")
        check_output_dir(args.surface_dir, "--surface-dir")
        for source in args.sources:
            if not Path(source).exists():
                raise KernelListError(f"{source} does not exist", "pass a torch_npu .whl file or installed folder")
        with tempfile.TemporaryDirectory(prefix="torch_npu_wheel_") as tmp:
            sources = [Path(s) for s in args.sources] + [download_wheel(v, Path(tmp)) for v in args.download]
            for source in sources:
                print(extract_release(source, args.out_dir, args.surface_dir).summary)
    except NpuCompatError as err:
        return fail(PROG, err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
