"""Compare two training runs (loss terms and COCO metrics) as a Markdown table and JSON.

    python tools/compare_runs.py --a runs/gpu --b runs/npu --label-a gpu --label-b npu --json cmp.json

Each side is a run's experiment folder or its train_stats.json / val_stats.json files.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Side-by-side table of two sam3 training runs: value A, value B, "
                                     "difference, relative difference and the better run (lower is better for losses).")
    parser.add_argument("--a", nargs="+", required=True, metavar="PATH", help="run A: experiment folder or metric files")
    parser.add_argument("--b", nargs="+", required=True, metavar="PATH", help="run B: experiment folder or metric files")
    parser.add_argument("--label-a", default="A", help="name of run A in the table (e.g. gpu)")
    parser.add_argument("--label-b", default="B", help="name of run B in the table (e.g. npu)")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON here")
    args = parser.parse_args(argv)
    from npu_compat.errors import NpuCompatError
    from npu_compat.training import compare

    try:
        rows = compare.compare_runs(compare.load_run(args.a), compare.load_run(args.b), args.label_a, args.label_b)
    except NpuCompatError as err:
        parser.exit(2, f"compare_runs: error: {err}\n")
    sys.stdout.write(compare.to_markdown(rows, args.label_a, args.label_b))
    if args.json:
        compare.write_json_atomic(args.json, compare.to_json(rows, args.label_a, args.label_b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
