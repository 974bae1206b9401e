#!/usr/bin/env python3
"""Verify, apply, refresh and scan the sam3 adapt-patch series (patches/series).

Every command takes --series PATH (default patches/series) and --upstream SOURCE:
  pypi:sam3==X     the release's wheel from PyPI (downloaded once, cached under
                   $NPU_COMPAT_UPSTREAM_CACHE or ~/.cache/npu_compat/upstream)
  dir:PATH         a folder holding sam3/ (e.g. a site-packages or a fork checkout)
  git:REPO@REV     a git repository at a commit, tag or branch
  all              (matrix only) every sam3 release on PyPI, plus the committed git rows
                   whose snapshot is at hand ($SAM3_MAIN_SRC for main at 99d02f2,
                   $SAM3_31_SRC for SAM 3.1 at 96914d2)

Exit codes: 0 ok; 1 the series fails (reject, fuzz in strict mode, a failed check,
matrix regression, refresh conflicts, uncovered CUDA code); 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npu_compat.errors import NpuCompatError
from npu_compat.patchset import verify
from npu_compat.patchset.errors import PatchError
from npu_compat.workloads.cli_parser import OneLineParser
from npu_compat.workloads.inputs import InputError, check_output_dir, check_output_file, non_negative_int

# The series ships in the package (npu_compat/patch_series, a link to the clone's patches/); in a clone it
# resolves to patches/series.
DEFAULT_SERIES = (Path(__file__).resolve().parents[1] / "patch_series" / "series").resolve()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="verify-patches", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, upstream_default: str = "pypi:sam3==0.1.4") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--series", type=Path, default=DEFAULT_SERIES, help="series file (default: patches/series)")
        p.add_argument("--upstream", default=upstream_default, help=f"upstream source (default: {upstream_default})")
        return p

    p = command("check", "Per-patch and per-hunk status on a copy of upstream, then: touched files compile, "
                         "no added line duplicated near its hunk, `import sam3` works without triton and decord. "
                         "Strict by default: fuzz fails.")
    p.add_argument("--fuzz", type=non_negative_int, default=0, help="allow up to N lines of fuzz (default 0 = strict)")
    p.add_argument("--no-import-check", action="store_true", help="skip the `import sam3` subprocess check")
    p = command("apply", "Write the patched upstream tree to --out (nothing is written if a patch fails).")
    p.add_argument("--out", type=Path, required=True, help="new directory for the patched tree")
    p.add_argument("--fuzz", type=non_negative_int, default=0, help="allow up to N lines of fuzz (default 0)")
    p = command("matrix", "Apply the series to every release (and git revision); does the patched tree import and "
                          "run the tiny model on cpu? Compare with the committed matrix.", "all")
    p.add_argument("--json", type=Path, help="write the matrix as JSON here")
    p.add_argument("--markdown", type=Path, help="write the matrix as Markdown here")
    p.add_argument("--write", action="store_true", help="write patches/matrix.json and patches/matrix.md")
    p.add_argument("--against", type=Path, help="committed matrix to diff against (default: matrix.json "
                                                 "next to the series unless --write)")
    p.add_argument("--as", dest="as_label", metavar="BASE", help="for a dir: upstream, the git revision it is "
                                                                "(sam3@<commit id>; the full id for a new row)")
    p.add_argument("--date", help="for a new dir: row, the revision's commit date (YYYY-MM-DD)")
    p = command("refresh", "Rebase the series onto --upstream with a 3-way merge and rewrite each patch "
                           "(zero offset, zero fuzz). Conflicts are left in <out>/conflicts/ for a human.")
    p.add_argument("--out", type=Path, help="write the refreshed series here (default: in place)")
    p.add_argument("--as", dest="as_label", metavar="BASE", help="Base-Version to write for a dir: upstream "
                                                                "(sam3==X or sam3@<git rev>)")
    p.add_argument("--base", help="source of the tree the series is based on (default: the wheel of its "
                                  "sam3==X, or the snapshot variable of a known sam3@REV)")
    command("scan", "List CUDA-specific code (.cuda(, \"cuda\", torch.cuda., triton, pin_memory, nccl) left "
                    "after the series: work items no patch hunk covers.")
    return parser


def _check_paths(args: argparse.Namespace) -> None:
    """The series and every output path are checked before any upstream is fetched or patched."""
    for flag in ("series", "against"):
        path = getattr(args, flag, None)
        if path is None:
            continue
        if path.is_dir():
            raise InputError(f"--{flag} {path} is a folder", "pass the file itself, e.g. patches/series")
        if not path.is_file():
            raise InputError(f"--{flag} {path} not found", "check the path (the kit's series is patches/series)")
    if args.command in ("apply", "refresh") and args.out is not None:
        check_output_dir(args.out, "--out")
    for flag in ("json", "markdown"):
        if getattr(args, flag, None) is not None:
            check_output_file(getattr(args, flag), f"--{flag}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_paths(args)
        if args.command == "check":
            lines, code = verify.cmd_check(args.series, args.upstream, args.fuzz, not args.no_import_check)
        elif args.command == "apply":
            lines, code = verify.cmd_apply(args.series, args.upstream, args.out, args.fuzz)
        elif args.command == "matrix":
            here = args.series.parent
            json_out = args.json or (here / "matrix.json" if args.write else None)
            md_out = args.markdown or (here / "matrix.md" if args.write else None)
            against = args.against or (None if args.write else here / "matrix.json")
            lines, code = verify.cmd_matrix(args.series, args.upstream, json_out, md_out, against, args.as_label,
                                            args.date)
        elif args.command == "refresh":
            lines, code = verify.cmd_refresh(args.series, args.upstream, args.out, args.as_label, args.base)
        else:
            lines, code = verify.cmd_scan(args.series, args.upstream)
    except (PatchError, NpuCompatError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
