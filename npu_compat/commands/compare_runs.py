"""Compare two runs (training loss terms and COCO metrics, or any two metrics files) as a Markdown table and JSON.

    compare-runs runs/gpu runs/npu --label-a gpu --label-b npu --json cmp.json
    compare-runs gpu-metrics.json npu-metrics.json
    compare-runs --a runs/gpu/logs/ds/train_stats.json runs/gpu/logs/ds/val_stats.json --b runs/npu

Each run is a trainer's experiment folder, its train_stats.json / val_stats.json files, or a plain
JSON object of metrics ({"metric": value}).
"""
from __future__ import annotations

import argparse
import sys

from npu_compat.errors import NpuCompatError
from npu_compat.training import compare
from npu_compat.workloads.cli_parser import OneLineParser, fail
from npu_compat.workloads.inputs import InputError, check_output_file

PROG = "compare-runs"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="The table: value A, value B, difference, relative difference and the better run "
                           "(lower is better for losses, errors and times).")
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run A then run B (or use --a and --b)")
    parser.add_argument("--a", nargs="+", metavar="PATH", help="run A: experiment folder or metric files")
    parser.add_argument("--b", nargs="+", metavar="PATH", help="run B: experiment folder or metric files")
    parser.add_argument("--label-a", default="A", help="name of run A in the table (e.g. gpu)")
    parser.add_argument("--label-b", default="B", help="name of run B in the table (e.g. npu)")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON here")
    return parser


def runs_from_args(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    if args.runs and (args.a or args.b):
        raise InputError("runs given both as RUN_A RUN_B and as --a/--b", "use one of the two forms")
    if args.runs:
        if len(args.runs) != 2:
            raise InputError(f"{len(args.runs)} runs given", "give two: RUN_A RUN_B (or --a PATH... --b PATH...)")
        return [args.runs[0]], [args.runs[1]]
    if not (args.a and args.b):
        raise InputError("two runs are needed", "give RUN_A RUN_B, or --a PATH... and --b PATH...")
    return args.a, args.b


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        a, b = runs_from_args(args)
        if args.json:
            check_output_file(args.json, "--json")
        rows = compare.compare_runs(compare.load_run(a), compare.load_run(b), args.label_a, args.label_b)
        if not compare.shared_metrics(rows):
            raise InputError(f"runs {args.label_a} and {args.label_b} have no metric in common",
                             "compare runs of the same kind (two training runs, or two metrics files with the same keys)")
    except NpuCompatError as err:
        return fail(PROG, err)
    sys.stdout.write(compare.to_markdown(rows, args.label_a, args.label_b))
    if args.json:
        compare.write_json_atomic(args.json, compare.to_json(rows, args.label_a, args.label_b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
