"""``tools/bench.py``'s one library call: options to a ``BenchConfig``, the suite run, and its outputs."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from npu_compat.bench import markdown
from npu_compat.bench.suite import BenchConfig, Result, run_suite, write_json


def config_from_args(args: argparse.Namespace, argv: Sequence[str]) -> BenchConfig:
    overrides = {"dtypes": tuple(args.dtype or ["fp32"]), "prompts": args.prompts,
                 "patched_tree": args.patched_tree, "argv": list(argv)}
    if args.prompt_batch:
        overrides["prompt_batch"] = args.prompt_batch
    if args.model:
        overrides["model"] = args.model
    if args.rounds:
        overrides["rounds"] = args.rounds
    if args.video_dtype:
        overrides["video_dtypes"] = tuple(args.video_dtype)
    if args.video_threshold is not None:
        overrides["video_threshold"] = args.video_threshold
    if args.video_max_objects is not None:
        overrides["video_max_objects"] = args.video_max_objects
    if args.video_frames:
        overrides["video_frames"] = args.video_frames
    return BenchConfig.for_quick(**overrides) if args.quick else BenchConfig(**overrides)


def over_budget(results: Sequence[Result]) -> list[tuple]:
    return [item for r in results if r.name == "counts" for item in r.raw.get("budget", {}).get("over", [])]


def run_from_cli(args: argparse.Namespace, names: Sequence[str], argv: Sequence[str]) -> int:
    from npu_compat import shim
    from npu_compat.cli_options import shim_options

    config = config_from_args(args, argv)
    def write(results: list[Result]) -> None:  # after every sub-benchmark: a stopped run keeps what finished
        write_json(args.json, results)
        if args.markdown:
            markdown.write_markdown(args.markdown, results)
        if args.update_doc:
            markdown.update_document(args.update_doc, results[-1:])

    results = run_suite(names, config, lambda: shim.apply(options=shim_options(args)), write)
    print(markdown.suite_markdown(results))
    over = over_budget(results)
    for row, measure, value, limit in over:
        print(f"bench: over budget: {row}: {measure} {value:.3f} > {limit}", file=sys.stderr)
    print(f"bench: wrote {args.json}" + (f" and {args.markdown}" if args.markdown else ""), file=sys.stderr)
    return 1 if over and args.check_budget else 0


__all__ = ["config_from_args", "run_from_cli", "over_budget"]
