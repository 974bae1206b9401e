"""SAM3 image segmentation, written the way a CUDA user writes it.

This script knows nothing of NPUs: it calls ``.cuda()``, ``torch.cuda.synchronize()`` and
``torch.autocast("cuda", ...)`` and uses ``Sam3Processor(model)`` with its default device.
Run it through the shim to put it on any device:

    python -m npu_compat.apply --report out/migration-report.json -- tools/sam3_demo.py --out out

(``--device D`` after the script name applies the shim for D from inside the script instead.)
It prints one line per stage (build, set_image, text prompt, box prompt, write) with its time and
writes ``<out>/overlay.png`` and ``<out>/result.json``. Without ``--checkpoint`` the weights are
random: the masks mean nothing, the overlay is stamped RANDOM WEIGHTS, and it shows the
``--top-k`` highest-scoring detections whatever their score (real weights: those above
``--threshold``).
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from npu_compat.atomic_files import write_atomic
from npu_compat.cli_options import device_spec
from npu_compat.workloads import inputs
from npu_compat.workloads.checkpoints import PARTIAL_FLAG
from npu_compat.workloads.overlay import clip_box, draw_detections, font
from npu_compat.workloads.cli_parser import OneLineParser, fail, quiet_upstream_warnings

PROG = "sam3-demo"
RANDOM_MARK = "RANDOM WEIGHTS"


def build_parser() -> OneLineParser:
    import argparse

    p = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["sam3", "tiny"], default="sam3", help="full SAM3, or the tiny test model")
    p.add_argument("--checkpoint", help="path to sam3.pt (default: random weights)")
    p.add_argument(PARTIAL_FLAG, action="store_true", help="load a checkpoint whose keys match only in part")
    p.add_argument("--image", help="image file (default: scikit-image's astronaut sample)")
    p.add_argument("--prompt", default="person", type=inputs.prompt_text, help="text prompt")
    p.add_argument("--box", default="0.5,0.5,0.5,0.5", type=inputs.parse_box, help=inputs.BOX_HELP)
    p.add_argument("--threshold", type=inputs.unit_interval, default=0.5, help="confidence threshold in [0,1]")
    p.add_argument("--top-k", type=inputs.top_k, default=3,
                   help="with random weights, draw this many highest-scoring detections per prompt (default 3)")
    p.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16", help="autocast dtype on the GPU")
    p.add_argument("--device", type=device_spec, help="apply the shim for this device from inside the script (npu, cuda, xpu, mps, cpu)")
    p.add_argument("--seed", type=inputs.seed, default=0, help="seed for random weights")
    p.add_argument("--out", default="out", help="output folder")
    return p


def stage(number: int, name: str, detail: str = "") -> float:
    print(f"[{number}/5] {name}{' ' + detail if detail else ''} ...", flush=True)
    return time.perf_counter()


def done(number: int, name: str, start: float, note: str = "") -> float:
    seconds = time.perf_counter() - start
    print(f"[{number}/5] {name} done in {seconds:.1f} s{'; ' + note if note else ''}", flush=True)
    return seconds


def load_image(path: str | None) -> Image.Image:
    if path:
        return inputs.load_image(path)
    from skimage import data

    return Image.fromarray(data.astronaut())


def pick(state: dict, threshold: float, top_k: int, random_weights: bool) -> dict[str, Any]:
    """Detections to draw: above ``threshold``, or with random weights the ``top_k`` best whatever their score."""
    scores = state["scores"].float().cpu()
    order = torch.argsort(scores, descending=True)
    keep = order[:top_k] if random_weights else order[scores[order] > threshold]
    logits = state["masks_logits"]
    return {"scores": scores[keep].tolist(), "boxes": state["boxes"].float().cpu()[keep].tolist(),
            "masks": state["masks"].squeeze(1).cpu()[keep].numpy().astype(bool),
            "above_threshold": int((scores > threshold).sum()),
            "mask_logit_mean": float(logits.float().mean().cpu()) if logits.numel() else 0.0}


def overlay(image: Image.Image, groups: list[tuple[str, dict[str, Any]]], random_weights: bool) -> Image.Image:
    """Masks tinted, boxes (clipped to the picture) and ``label score`` tags drawn where they overlap nothing;
    a RANDOM WEIGHTS banner across the top when so."""
    band = banner_height(image.height) if random_weights else 0
    detections = [{"label": label, "score": score, "box": box, "mask": mask}
                  for label, det in groups for mask, box, score in zip(det["masks"], det["boxes"], det["scores"])]
    out = draw_detections(image, detections, reserved=[(0, 0, image.width, band + 1)] if band else [])
    if random_weights:
        draw = ImageDraw.Draw(out)
        draw.rectangle([0, 0, out.width, band], fill=(200, 0, 0))
        draw.text((out.width // 2, band // 2), f"{RANDOM_MARK}: masks are meaningless", fill=(255, 255, 255),
                  font=font(int(band * 0.6)), anchor="mm")
    return out


def banner_height(height: int) -> int:
    return max(20, height // 14)


def to_json(det: dict[str, Any], width: int | None = None, height: int | None = None) -> dict[str, Any]:
    """The detections for result.json: boxes clipped to the picture (``width`` x ``height``), the model's own in
    ``boxes_raw``."""
    boxes = det["boxes"] if width is None or height is None else [clip_box(b, width, height) for b in det["boxes"]]
    return {"scores": det["scores"], "boxes": boxes, "boxes_raw": det["boxes"],
            "mask_areas": [int(m.sum()) for m in det["masks"]],
            "above_threshold": det["above_threshold"], "mask_logit_mean": det["mask_logit_mean"]}


def run(args: Any) -> str:
    from npu_compat.workloads.model_loading import build_model

    image = load_image(args.image)  # every input is checked before the model is built
    out_dir = inputs.check_output_dir(args.out)
    if args.checkpoint:
        from npu_compat.workloads.checkpoints import check_path

        check_path(args.checkpoint)
    if args.device:
        import npu_compat

        active = npu_compat.current()
        if active is not None and not str(active.target.device()).startswith(args.device.split(":")[0]):
            raise inputs.InputError(f"--device {args.device} but the shim already runs this script on "
                                    f"{active.target.device()}", "pass the device once: to npu_compat.apply or to the script")
        npu_compat.apply(device=args.device)
    torch.manual_seed(args.seed)
    torch.cuda.manual_seed_all(args.seed)
    if not torch.cuda.is_available():
        raise inputs.InputError("no CUDA device, and the shim is not applied",
                                "run it through python -m npu_compat.apply -- tools/sam3_demo.py, or pass --device")
    from sam3.model.sam3_image_processor import Sam3Processor

    random_weights = args.checkpoint is None
    t = stage(1, "build", f"{args.model} model" + (" (random weights)" if random_weights else f" from {args.checkpoint}"))
    model = build_model(args.model, args.checkpoint, None, args.seed, args.allow_partial_checkpoint)
    model = model.cuda().eval()
    processor = Sam3Processor(model, confidence_threshold=0.0 if random_weights else args.threshold)
    torch.cuda.synchronize()
    seconds = {"build": done(1, "build", t)}

    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
        t = stage(2, "set_image", f"{image.width}x{image.height} (the image encoder: the slow stage)")
        state = processor.set_image(image)
        torch.cuda.synchronize()
        seconds["set_image"] = done(2, "set_image", t)
        t = stage(3, "text prompt", repr(args.prompt))
        state = processor.set_text_prompt(prompt=args.prompt, state=state)
        torch.cuda.synchronize()
        text = pick(state, args.threshold, args.top_k, random_weights)
        seconds["text_prompt"] = done(3, "text prompt", t, f"{text['above_threshold']} above {args.threshold}")
        t = stage(4, "box prompt", ",".join(f"{v:g}" for v in args.box))
        state = processor.add_geometric_prompt(box=list(args.box), label=True, state=state)
        torch.cuda.synchronize()
        box = pick(state, args.threshold, args.top_k, random_weights)
        seconds["box_prompt"] = done(4, "box prompt", t, f"{box['above_threshold']} above {args.threshold}")

    t = stage(5, "write", str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    picture = overlay(image, [(args.prompt, text), ("box", box)], random_weights)
    write_atomic(out_dir / "overlay.png", lambda p: picture.save(p, format="PNG"))
    result = {
        "device": str(next(model.parameters()).device), "model": args.model, "checkpoint": args.checkpoint,
        "random_weights": random_weights, "prompt": args.prompt, "box_cxcywh": list(args.box),
        "threshold": args.threshold, "drawn": "top_k" if random_weights else "above_threshold", "top_k": args.top_k,
        "text": to_json(text, image.width, image.height), "box": to_json(box, image.width, image.height),
        "seconds": seconds,
        "peak_memory_bytes": torch.cuda.max_memory_allocated(),
    }
    write_atomic(out_dir / "result.json", lambda p: p.write_text(json.dumps(result, indent=2)))
    seconds["write"] = done(5, "write", t)
    drawn = "top" if random_weights else "above threshold"
    return (f"segmented '{args.prompt}': drew {len(text['scores'])} text and {len(box['scores'])} box detections "
            f"({drawn}){' on RANDOM WEIGHTS' if random_weights else ''}; wrote {out_dir}/overlay.png and result.json")


def main(argv: list[str] | None = None) -> int:
    quiet_upstream_warnings()
    args = build_parser().parse_args(argv)
    from npu_compat.errors import NpuCompatError

    try:
        print(run(args))
    except NpuCompatError as err:
        return fail(PROG, err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
