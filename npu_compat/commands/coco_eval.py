"""Evaluate SAM3 on a COCO-format set: every category name is a text prompt on every image.

Flags: --coco-ann, --coco-img, --output-json, --max-images, --warmup, --eval, --eval-only,
--confidence-threshold, --score-filter, plus batching, exact resume and sharding:

  python tools/coco_eval.py --coco-ann instances_val2017.json --coco-img val2017 \\
      --checkpoint sam3.pt --device npu --dtype bf16 --output-json preds.json --eval
  torchrun --nproc-per-node 8 tools/coco_eval.py ... --resume     # one shard per device

Results are appended to <output-json>.parts/rank-<r>.jsonl as each image finishes; --resume
skips exactly the images already there. Rank 0 writes <output-json> (COCO results list),
<stem>.timings.json (mean/p50/p90 per stage after --warmup images) and, with --eval,
<stem>.metrics.json (segm and bbox, all 12 COCO stats). A second run on the same --output-json
while one is going is refused (<output-json>.lock). See docs/workloads.md.
"""
from __future__ import annotations

import argparse
import sys



PROG = "coco-eval"
DEFAULT_OUTPUT = "out/sam3_coco_predictions.json"


def build_parser() -> argparse.ArgumentParser:
    from npu_compat.cli_options import add_shim_arguments
    from npu_compat.workloads import inputs
    from npu_compat.workloads.checkpoints import PARTIAL_FLAG
    from npu_compat.workloads.cli_parser import OneLineParser

    p = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coco-ann", required=True, help="COCO instances file, e.g. instances_val2017.json")
    p.add_argument("--coco-img", help="folder of the images named in the annotation file (required unless --eval-only)")
    p.add_argument("--output-json", default=DEFAULT_OUTPUT, help=f"merged COCO results file (default {DEFAULT_OUTPUT})")
    p.add_argument("--max-images", type=inputs.image_count, default=-1, help="first N images by id, N >= 1 (-1, the default: all)")
    p.add_argument("--warmup", type=inputs.non_negative_int, default=3,
                   help="images left out of the timing summary (per rank)")
    p.add_argument("--eval", action="store_true", help="run pycocotools segm + bbox evaluation at the end")
    p.add_argument("--eval-only", action="store_true", help="only evaluate an existing --output-json")
    p.add_argument("--confidence-threshold", type=inputs.unit_interval, default=0.0,
                   help="keep detections with score above this (upstream processor threshold; 0 for mAP)")
    p.add_argument("--score-filter", type=inputs.unit_interval, default=0.01,
                   help="write only detections with score >= this")
    p.add_argument("--resume", action="store_true", help="keep finished images from an earlier run and do the rest")
    p.add_argument("--prompt-batch", type=inputs.positive_int, default=None,
                   help="category prompts per grounding forward (default: 40 on an accelerator, 1 on the cpu; the "
                        "segmentation head takes 16 at a time, "
                        "~0.27 GB/prompt fp32 on CPU, and each prompt's mask logits take 66 MB)")
    p.add_argument("--sequential", action="store_true",
                   help="one set_text_prompt per category, per-mask host postprocessing (the baseline)")
    p.add_argument("--capture", choices=["off", "auto", "graph", "compile"], default="off",
                   help="batched prompts' grounding as one captured graph per prompt batch size: graph (CUDA/NPU "
                        "graphs), compile (torch.compile), auto (graph on cuda/npu, compile elsewhere); a batch that "
                        "cannot be captured runs eagerly with a one-line reason (default off)")
    p.add_argument("--model", choices=["sam3", "tiny"], default="sam3", help="full SAM3, or the tiny test model")
    p.add_argument("--checkpoint", help="sam3.pt (default: random weights, with a loud notice)")
    p.add_argument(PARTIAL_FLAG, action="store_true", help="load a checkpoint whose keys match only in part")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast dtype on the target")
    p.add_argument("--weights-dtype", choices=["fp32", "bf16"], default="fp32",
                   help="store linear/conv/attention weights in this dtype (bf16 needs --dtype bf16)")
    p.add_argument("--seed", type=inputs.seed, default=0, help="seed for random weights (same on every rank)")
    p.add_argument("--rle-processes", type=inputs.non_negative_int, default=None,
                   help="processes that RLE-encode masks (default: one per CPU core, 0 on a 1-core host)")
    p.add_argument("--rle-workers", type=inputs.positive_int, default=1,
                   help="in-process threads that RLE-encode masks (used only with --rle-processes 0)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.add_argument("--report", help="also write the shim's migration report (JSON) to this file")
    add_shim_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    from npu_compat.workloads.cli_parser import fail, quiet_upstream_warnings

    quiet_upstream_warnings()
    args = build_parser().parse_args(argv)
    from npu_compat import shim
    from npu_compat.cli_options import shim_options
    from npu_compat.errors import NpuCompatError
    from npu_compat.workloads import inputs, sharding
    from npu_compat.workloads.coco_eval import CocoEvalConfig, format_run_summary, run_coco_eval, validate

    config = CocoEvalConfig(
        coco_ann=args.coco_ann, coco_img=args.coco_img or "", output_json=args.output_json,
        max_images=args.max_images, warmup=args.warmup, eval=args.eval, eval_only=args.eval_only,
        confidence_threshold=args.confidence_threshold, score_filter=args.score_filter, resume=args.resume,
        prompt_batch=args.prompt_batch, model=args.model, checkpoint=args.checkpoint,
        allow_partial_checkpoint=args.allow_partial_checkpoint, dtype=args.dtype, weights_dtype=args.weights_dtype,
        sequential=args.sequential, capture=args.capture, seed=args.seed, rle_workers=args.rle_workers,
        rle_processes=args.rle_processes, progress=not args.no_progress,
    )
    shard = sharding.shard_from_env()
    try:
        options = shim_options(args)
        coco = validate(config)
        if args.report:
            inputs.check_output_file(args.report, "--report")
        session = shim.apply(options=options, device=sharding.device_for_rank(options.device, shard))
        summary = run_coco_eval(config, session, shard, coco)
        if args.report and shard.is_main:
            session.report.write_json(args.report)
    except NpuCompatError as err:
        return fail(PROG, err)
    if shard.is_main:
        print(format_run_summary(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
