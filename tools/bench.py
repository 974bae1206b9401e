"""Benchmarks for the SAM3 workloads (issue 6); numbers go to docs/benchmarks.md.

  python tools/bench.py postprocess --classes 80 --masks 200            # seed per-mask path vs device path
  python tools/bench.py prompts --model sam3 --prompts 80 --device cuda  # seed loop vs batched, one run

Both print JSON. 'prompts' reports mean/p50/p90 per stage for each mode after one warm-up
image and the ratio sequential/batched per stage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from npu_compat.cli_options import add_shim_arguments, shim_options

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    post = sub.add_parser("postprocess", help="postprocessing alone: resize + threshold + RLE + box")
    post.add_argument("--classes", type=int, default=80)
    post.add_argument("--masks", type=int, default=200, help="masks per class (SAM3 has 200 queries)")
    post.add_argument("--height", type=int, default=480)
    post.add_argument("--width", type=int, default=640)
    post.add_argument("--workers", type=int, default=1, help="in-process RLE threads (with --processes 0)")
    post.add_argument("--processes", type=int, default=None,
                      help="worker processes (default: one per CPU core, 0 on a 1-core host; 0 = in-process)")
    post.add_argument("--repeats", type=int, default=1, help="seed/fast runs, interleaved")
    post.add_argument("--noise", type=float, default=0.0, help="per-logit Gaussian noise (ragged contours)")
    prompts = sub.add_parser("prompts", help="per image, N category prompts: seed loop vs batched")
    prompts.add_argument("--model", choices=["sam3", "tiny"], default="sam3")
    prompts.add_argument("--checkpoint")
    prompts.add_argument("--prompts", type=int, default=80)
    prompts.add_argument("--prompt-batch", type=int, default=16)
    prompts.add_argument("--images", type=int, default=2, help="timed images per mode (after 1 warm-up)")
    prompts.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    for sp in (post, prompts):
        add_shim_arguments(sp)
    args = p.parse_args(argv)

    from npu_compat import shim
    from npu_compat.bench import workloads as benchmarks

    session = shim.apply(options=shim_options(args))
    if args.what == "postprocess":
        result = benchmarks.bench_postprocess(args.classes, args.masks, args.height, args.width,
                                              session.target.device(), args.workers, args.repeats, args.noise,
                                              args.processes)
    else:
        result = benchmarks.bench_prompts(args.model, args.checkpoint, args.prompts, args.prompt_batch, args.images,
                                          args.dtype, session)
    result["device"] = str(session.target.device())
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
