"""Benchmark the runtime shim's own cost. Results go to stdout as Markdown rows.

  python tools/bench_shim.py apply            # apply() time
  python tools/bench_shim.py calls            # per-call overhead, ns
  python tools/bench_shim.py sam3 --patched-tree DIR [--rounds 3]
      # full-size SAM3 step, shim on vs off; make DIR with:
      # python tools/verify_patches.py apply --upstream pypi:sam3==0.1.4 --out DIR
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("apply", help="apply() time, cold and warm")
    calls = sub.add_parser("calls", help="per-call overhead of wrapped torch functions")
    calls.add_argument("--number", type=int, default=20000)
    sam3 = sub.add_parser("sam3", help="full-size SAM3 set_image + prompt, shim on vs off")
    sam3.add_argument("--patched-tree", required=True, help="sam3 tree with patches/ applied (folder holding sam3/)")
    sam3.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from npu_compat.bench import shim_overhead as shim_bench

    import torch

    print(f"<!-- {time.strftime('%Y-%m-%d')} {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
          f"python {platform.python_version()} -->")
    if args.what == "apply":
        rows = shim_bench.apply_time()
    elif args.what == "calls":
        rows = shim_bench.call_overhead(args.number)
    else:
        if not os.path.isdir(os.path.join(args.patched_tree, "sam3")):
            print(f"bench_shim: error: {args.patched_tree} has no sam3/ folder; create it with "
                  "tools/verify_patches.py apply --upstream pypi:sam3==0.1.4 --out DIR", file=sys.stderr)
            return 2
        rows = shim_bench.sam3_step_ratio(os.path.abspath(args.patched_tree), args.rounds)
    print("| measurement | value | note |\n| --- | --- | --- |")
    for row in rows:
        print(row.row())
    return 0


if __name__ == "__main__":
    sys.exit(main())
