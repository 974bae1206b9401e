"""``python -m npu_compat.env``: check this environment against the kit's version table.

Subcommands: ``check`` (default), ``constraints`` (print a pip constraints file for a line),
``lines`` (list the table's lines). Run with ``--help``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from npu_compat.atomic_files import write_text_atomic
from npu_compat.env import check, host, versions
from npu_compat.workloads.cli_parser import OneLineParser

EPILOG = """\
Each finding is ok, warn or fail; a fail prints the fix and the docs/env.md section.
Exit status: 0 when nothing failed, 1 when something failed, 2 on bad arguments.
On a machine without an Ascend NPU the check reports "no NPU" as a failed finding.
torch_npu is never imported: versions come from package metadata."""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m npu_compat.env", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check an Ascend environment (OS, driver, CANN, npu-smi, torch / torch_npu / "
        "torchvision / triton-ascend / numpy / sam3, decord + FFmpeg) against the kit's table of "
        "known-good combinations (npu_compat/env/versions.toml).")
    sub = parser.add_subparsers(dest="command")
    chk = sub.add_parser("check", help="run the environment check (the default)")
    for p in (parser, chk):
        p.add_argument("--line", choices=versions.known_lines(),
                       help="table line to check against (default: the installed one, else the default)")
        p.add_argument("--build", action="store_true",
                       help="build-only mode for a Dockerfile RUN: skip NPU, driver and set_env sourcing")
        p.add_argument("--json", action="store_true", help="print findings as JSON")
        p.add_argument("--no-video", action="store_true", help="skip the decord decode probe")
        p.add_argument("--only", help="comma-separated finding names to report (e.g. cann,set_env "
                       "to vet a base image before anything is installed); names: platform, npu, driver, cann, "
                       "set_env, torch, torch_npu, torchvision, triton, numpy, sam3, combination, video")
    con = sub.add_parser("constraints", help="print a pip constraints file for a line")
    con.add_argument("--line", choices=versions.known_lines())
    con.add_argument("-o", "--output", help="write to this file instead of stdout")
    sub.add_parser("lines", help="list the table's lines")
    return parser


FINDINGS = ("platform", "npu", "driver", "cann", "set_env", "torch", "torch_npu", "torchvision", "triton",
            "numpy", "sam3", "combination", "video")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "only", None) is not None:
        names = args.only.split(",")
        if "" in [n.strip() for n in names]:
            sys.stderr.write(f"python -m npu_compat.env: error: --only {args.only!r} has an empty name; give names "
                             f"separated by single commas, e.g. --only cann,set_env\n")
            return 2
        unknown = sorted(set(names) - set(FINDINGS))
        if unknown:
            sys.stderr.write(f"python -m npu_compat.env: error: --only {','.join(unknown)}: no such finding; "
                             f"choose from {','.join(FINDINGS)}\n")
            return 2
    if args.command == "lines":
        for name in versions.known_lines():
            print(f"{name}\t{versions.get_line(name).description}")
        return 0
    if args.command == "constraints":
        text = versions.constraints_text(args.line)
        if args.output:
            from npu_compat.workloads.inputs import check_output_file, InputError

            try:
                check_output_file(args.output, "--output")
            except InputError as err:
                sys.stderr.write(f"python -m npu_compat.env: error: {err}\n")
                return 2
            write_text_atomic(args.output, text)
        else:
            sys.stdout.write(text)
        return 0
    facts = host.gather(npu_smi=(lambda: None) if args.build else host.run_npu_smi,
                        video=None if args.no_video else host.probe_video)
    findings = check.run_checks(facts, args.line, build=args.build)
    if args.only:
        wanted = set(args.only.split(","))
        findings = [f for f in findings if f.name in wanted]
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=1))
    else:
        print("\n".join(f.render() for f in findings))
        status = "FAILED" if check.exit_status(findings) else "passed"
        print(f"environment check {status} ({'build-only' if args.build else 'full'} mode, "
              f"line {check.pick_line(facts) if not args.line else args.line})")
    return check.exit_status(findings)


if __name__ == "__main__":
    sys.exit(main())
