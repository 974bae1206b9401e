"""Benchmarks of the kit, one process, results as JSON plus a Markdown summary.

  python tools/bench.py --quick                                  # every sub-benchmark, tiny model (CI runs this)
  python tools/bench.py image counts --model sam3 --dtype fp32   # some of them, full-size SAM3 (random weights)
  python tools/bench.py --model sam3 --json out.json --update-doc docs/benchmarks.md
  python tools/bench.py gpu [--dry-run]                          # the GPU suite (npu_compat/bench/gpu_suite.py)
  python tools/bench.py capture --quick                          # captured prompt path vs eager, one process

Sub-benchmarks: shim-overhead, image, coco-prompts, postprocess, video, counts, peer-hf, capture (default: all
but capture, whose compile takes minutes on a cpu).
Variants are interleaved in one process and reported as ratios; every result records the machine, CPU
flags, device, versions, date and this command. The counts are checked against
npu_compat/bench/count_budget.json (--check-budget makes a row over budget exit 1).
"""
from __future__ import annotations

import argparse
import os
import sys

from npu_compat.cli_options import add_shim_arguments, shim_options
from npu_compat.errors import NpuCompatError
from npu_compat.workloads.cli_parser import OneLineParser, fail
from npu_compat.workloads.inputs import InputError, check_output_file, check_readable_file, positive_int, unit_interval


NAMES = ("shim-overhead", "image", "coco-prompts", "postprocess", "video", "counts", "peer-hf", "capture")
DEFAULT_NAMES = NAMES[:-1]  # capture compiles for minutes on a cpu: run by name (and by the gpu suite)


PROG = "npu-compat-bench"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(NAMES)} (default: all but capture)")
    p.add_argument("--quick", action="store_true", help="tiny model, few prompts, small images: runs in CI")
    p.add_argument("--model", choices=["sam3", "tiny"], help="full SAM3 (default) or the tiny test model")
    p.add_argument("--dtype", action="append", choices=["fp32", "bf16", "fp16"],
                   help="repeatable; the first is used where one dtype is needed (default fp32)")
    p.add_argument("--prompts", type=positive_int, default=80, help="text prompts per image (default 80, the COCO names)")
    p.add_argument("--prompt-batch", type=positive_int,
                   help="prompts per grounding forward (default 40; its segmentation head takes 16 at a time)")
    p.add_argument("--rounds", type=positive_int, help="interleaved timed rounds per variant (default 2, quick 1)")
    p.add_argument("--video-frames", type=positive_int, help="frames of the synthetic clip (default 3)")
    p.add_argument("--video-dtype", action="append", choices=["shim", "fp32"],
                   help="video, repeatable (variants interleaved on one model): the shim's autocast policy (default; "
                        "bf16 where native, fp32 where emulated) or fp32 (sam3 from the patched tree first on "
                        "PYTHONPATH: upstream casts the video neck to bf16 itself)")
    p.add_argument("--video-threshold", type=unit_interval,
                   help="video: detection threshold for new and kept objects (upstream 0.7 / 0.5; random weights "
                        "rarely pass them, so the tracker would have nothing to track)")
    p.add_argument("--video-max-objects", type=positive_int, help="video: at most this many objects tracked")
    p.add_argument("--patched-tree", help="shim-overhead: also time SAM3 shim on/off against this patched sam3 tree")
    p.add_argument("--json", default="bench-results.json", help="where the JSON goes (default bench-results.json)")
    p.add_argument("--markdown", help="also write the Markdown summary here")
    p.add_argument("--update-doc", metavar="DOC", help="replace the results block of DOC (docs/benchmarks.md)")
    p.add_argument("--dry-run", action="store_true", help="gpu: list what it would run and what is missing; run nothing")
    p.add_argument("--check-budget", action="store_true", help="exit 1 when a count row is over its budget")
    add_shim_arguments(p)
    return p


def check_inputs(args: argparse.Namespace) -> None:
    """Every input and output path, before any benchmark runs."""
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        raise InputError(f"no sub-benchmark {', '.join(unknown)}", f"choose from {', '.join(NAMES)}")
    if args.patched_tree and not os.path.isdir(os.path.join(args.patched_tree, "sam3")):
        raise InputError(f"{args.patched_tree} has no sam3/ folder",
                         "create it with verify-patches apply --upstream pypi:sam3==0.1.4 --out DIR")
    check_output_file(args.json, "--json")
    if args.markdown:
        check_output_file(args.markdown, "--markdown")
    if args.update_doc:
        check_readable_file(args.update_doc, "--update-doc", missing_fix="give an existing Markdown page, e.g. "
                            "docs/benchmarks.md (its results block is replaced)")
        check_output_file(args.update_doc, "--update-doc")
    shim_options(args)  # the shim flags (e.g. --fallback-off) are checked here, not after the first benchmark


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.names == ["gpu"]:
        from npu_compat.bench.gpu_suite import run_gpu_from_cli

        return run_gpu_from_cli(args, ["tools/bench.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        check_inputs(args)
    except NpuCompatError as err:
        return fail(PROG, err)
    from npu_compat.bench.report import run_from_cli

    return run_from_cli(args, list(args.names) or list(DEFAULT_NAMES), ["tools/bench.py", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
