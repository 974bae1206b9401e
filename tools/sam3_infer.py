"""SAM3 image inference on any device: one image or a folder, text and/or box prompts.

  python tools/sam3_infer.py photo.jpg --prompt person --prompt dog --checkpoint sam3.pt --device npu
  python tools/sam3_infer.py photos/ --prompt cat --box 0.5,0.5,0.4,0.4 --model tiny --device cpu

All text prompts of an image run in batched grounding forwards (text encoded once per run).
A box is cx,cy,w,h normalised to [0,1] (upstream's add_geometric_prompt convention).
Writes <out>/<stem>.overlay.png and <out>/<stem>.json (boxes xyxy in pixels, scores, COCO RLE
masks) and prints load / encode / prompt / postprocess seconds. Without --checkpoint the
weights are random and a loud notice says so.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_box(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"box {text!r}: give cx,cy,w,h as four numbers in [0,1]")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from npu_compat.cli_options import add_shim_arguments

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    p.add_argument("--prompt", action="append", default=[], help="text prompt (repeatable)")
    p.add_argument("--box", action="append", default=[], type=parse_box, help="box prompt cx,cy,w,h in [0,1] (repeatable)")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--model", choices=["sam3", "tiny"], default="sam3", help="full SAM3, or the tiny test model")
    p.add_argument("--checkpoint", help="sam3.pt (default: random weights, with a loud notice)")
    p.add_argument("--threshold", type=float, default=0.5, help="keep detections with score above this")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast dtype on the target")
    p.add_argument("--prompt-batch", type=int, default=16, help="text prompts per grounding forward")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights")
    add_shim_arguments(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from npu_compat import shim
    from npu_compat.cli_options import shim_options
    from npu_compat.errors import NpuCompatError
    from npu_compat.workloads.image_infer import InferConfig, run_image_inference

    config = InferConfig(inputs=args.inputs, out=args.out, prompts=args.prompt, boxes=args.box, model=args.model,
                         checkpoint=args.checkpoint, threshold=args.threshold, dtype=args.dtype,
                         prompt_batch=args.prompt_batch, seed=args.seed)
    try:
        session = shim.apply(options=shim_options(args))
        summaries = run_image_inference(config, session)
    except (NpuCompatError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for s in summaries:
        sec = s["seconds"]
        print(f"{s['image']}: {s['detections']} detections -> {s['overlay']}, {s['json']} | load {sec['load']:.2f}s "
              f"encode {sec['encode']:.2f}s prompt {sec['prompt']:.2f}s postprocess {sec['postprocess']:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
