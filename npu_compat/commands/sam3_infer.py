"""SAM3 image inference on any device: one image or a folder, text and/or box prompts.

  python tools/sam3_infer.py photo.jpg --prompt person --prompt dog --checkpoint sam3.pt --device npu
  python tools/sam3_infer.py photos/ --prompt cat --box 0.5,0.5,0.4,0.4 --model tiny --device cpu

All text prompts of an image run in batched grounding forwards (text encoded once per run).
A box is cx,cy,w,h: centre and size as fractions of the image, inside it (upstream's
add_geometric_prompt convention; the same in every tool). In a folder, an image that cannot be
decoded is skipped, said on stderr and counted; a file named on the command line must decode.
Writes <out>/<stem>.overlay.png and <out>/<stem>.json (boxes xyxy in pixels, scores, COCO RLE
masks) and prints load / encode / prompt / postprocess seconds. Without --checkpoint the
weights are random and a loud notice says so.
"""
from __future__ import annotations

import sys



PROG = "sam3-infer"


def build_parser():
    import argparse

    from npu_compat.cli_options import add_shim_arguments
    from npu_compat.workloads import inputs
    from npu_compat.workloads.checkpoints import PARTIAL_FLAG
    from npu_compat.workloads.cli_parser import OneLineParser

    p = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    p.add_argument("--prompt", action="append", default=[], type=inputs.prompt_text, help="text prompt (repeatable)")
    p.add_argument("--box", action="append", default=[], type=inputs.parse_box,
                   help=inputs.BOX_HELP + " (repeatable)")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--model", choices=["sam3", "tiny"], default="sam3", help="full SAM3, or the tiny test model")
    p.add_argument("--checkpoint", help="sam3.pt (default: random weights, with a loud notice)")
    p.add_argument(PARTIAL_FLAG, action="store_true", help="load a checkpoint whose keys match only in part")
    p.add_argument("--threshold", type=inputs.unit_interval, default=0.5,
                   help="keep detections with score above this, in [0,1]")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast dtype on the target")
    p.add_argument("--weights-dtype", choices=["fp32", "bf16"], default="fp32",
                   help="store linear/conv/attention weights in this dtype (bf16 needs --dtype bf16)")
    p.add_argument("--prompt-batch", type=inputs.positive_int, default=None,
                   help="text prompts per grounding forward (default: 40 on an accelerator, where it saves op launches, "
                        "1 on the cpu, where it is fastest; the segmentation head takes 16 at a time)")
    p.add_argument("--capture", choices=["off", "auto", "graph", "compile"], default="off",
                   help="text prompts' grounding as one captured graph per prompt batch size: graph "
                        "(CUDA/NPU graphs), compile (torch.compile), auto (graph on cuda/npu, compile elsewhere); "
                        "a batch that cannot be captured runs eagerly with a one-line reason (default off)")
    p.add_argument("--seed", type=inputs.seed, default=0, help="seed for random weights")
    add_shim_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    from npu_compat.workloads.cli_parser import fail, quiet_upstream_warnings

    quiet_upstream_warnings()
    args = build_parser().parse_args(argv)
    from npu_compat import shim
    from npu_compat.cli_options import shim_options
    from npu_compat.errors import NpuCompatError
    from npu_compat.workloads.image_infer import InferConfig, run_image_inference, validate

    config = InferConfig(inputs=args.inputs, out=args.out, prompts=args.prompt, boxes=args.box, model=args.model,
                         checkpoint=args.checkpoint, allow_partial_checkpoint=args.allow_partial_checkpoint,
                         threshold=args.threshold, dtype=args.dtype, weights_dtype=args.weights_dtype,
                         prompt_batch=args.prompt_batch, seed=args.seed, capture=args.capture)

    def skipped(path, reason):
        print(f"{PROG}: skipped {path}: {reason}", file=sys.stderr, flush=True)

    try:
        images = validate(config)
        session = shim.apply(options=shim_options(args))
        summaries = run_image_inference(config, session, images, on_skip=skipped)
    except NpuCompatError as err:
        return fail(PROG, err)
    done = [s for s in summaries if "skipped" not in s]
    for s in done:
        sec = s["seconds"]
        print(f"{s['image']}: {s['detections']} detections -> {s['overlay']}, {s['json']} | load {sec['load']:.2f}s "
              f"encode {sec['encode']:.2f}s prompt {sec['prompt']:.2f}s postprocess {sec['postprocess']:.2f}s")
    print(f"{len(done)} of {len(summaries)} images done, {len(summaries) - len(done)} skipped (cannot be decoded)")
    if not done:
        return fail(PROG, NpuCompatError("no image could be decoded", "pass PNG/JPEG/BMP/WebP/TIFF images"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
