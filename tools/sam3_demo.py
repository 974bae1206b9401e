"""SAM3 image segmentation, written the way a CUDA user writes it.

This script knows nothing of NPUs: it calls ``.cuda()``, ``torch.cuda.synchronize()`` and
``torch.autocast("cuda", ...)`` and uses ``Sam3Processor(model)`` with its default device.
Run it through the shim to put it on any device:

    python -m npu_compat.apply --report out/migration-report.json -- tools/sam3_demo.py --out out

It writes ``<out>/overlay.png`` and ``<out>/result.json``. Without ``--checkpoint`` the
weights are random (the shim prints a loud notice) and the masks mean nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["sam3", "tiny"], default="sam3", help="full SAM3, or the tiny test model")
    p.add_argument("--checkpoint", help="path to sam3.pt (default: random weights)")
    p.add_argument("--image", help="image file (default: scikit-image's astronaut sample)")
    p.add_argument("--prompt", default="person", help="text prompt")
    p.add_argument("--box", default="0.5,0.5,0.5,0.5", help="box prompt cx,cy,w,h normalised to [0,1]")
    p.add_argument("--threshold", type=float, default=0.5, help="confidence threshold")
    p.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16", help="autocast dtype on the GPU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out", help="output folder")
    return p.parse_args()


def load_image(path: str | None) -> Image.Image:
    if path:
        return Image.open(path).convert("RGB")
    from skimage import data

    return Image.fromarray(data.astronaut())


def overlay(image: Image.Image, masks: np.ndarray, boxes: np.ndarray) -> Image.Image:
    canvas = np.asarray(image).astype(np.float32)
    rng = np.random.default_rng(0)
    for mask in masks:
        color = rng.uniform(60, 255, size=3)
        canvas[mask] = 0.5 * canvas[mask] + 0.5 * color
    out = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))
    from PIL import ImageDraw

    draw = ImageDraw.Draw(out)
    for x0, y0, x1, y1 in boxes.tolist():
        draw.rectangle([x0, y0, x1, y1], outline=(255, 0, 0), width=2)
    return out


def to_json(state: dict) -> dict:
    return {
        "boxes": state["boxes"].float().cpu().tolist(),
        "scores": state["scores"].float().cpu().tolist(),
        "mask_areas": state["masks"].flatten(1).sum(1).cpu().tolist(),
        "mask_logit_mean": float(state["masks_logits"].float().mean().cpu()) if state["masks_logits"].numel() else 0.0,
    }


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    torch.cuda.manual_seed_all(args.seed)
    if not torch.cuda.is_available():
        raise SystemExit("This script needs a CUDA GPU.")

    from sam3.model.sam3_image_processor import Sam3Processor

    t0 = time.perf_counter()
    if args.model == "tiny":
        from npu_compat.sam3.tiny import build_tiny_sam3_image_model

        model = build_tiny_sam3_image_model(seed=args.seed)
    else:
        from sam3.model_builder import build_sam3_image_model

        model = build_sam3_image_model(checkpoint_path=args.checkpoint, load_from_HF=False)
    model = model.cuda().eval()
    processor = Sam3Processor(model, confidence_threshold=args.threshold)
    image = load_image(args.image)
    torch.cuda.synchronize()
    t_load = time.perf_counter() - t0

    box = [float(v) for v in args.box.split(",")]
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
        t0 = time.perf_counter()
        state = processor.set_image(image)
        torch.cuda.synchronize()
        t_image = time.perf_counter() - t0
        t0 = time.perf_counter()
        state = processor.set_text_prompt(prompt=args.prompt, state=state)
        torch.cuda.synchronize()
        t_text = time.perf_counter() - t0
        text_result = to_json(state)
        state = processor.add_geometric_prompt(box=box, label=True, state=state)
        torch.cuda.synchronize()
        box_result = to_json(state)

    os.makedirs(args.out, exist_ok=True)
    masks = state["masks"].squeeze(1).cpu().numpy().astype(bool)
    overlay(image, masks, state["boxes"].float().cpu().numpy()).save(os.path.join(args.out, "overlay.png"))
    result = {
        "device": str(next(model.parameters()).device),
        "model": args.model,
        "checkpoint": args.checkpoint,
        "prompt": args.prompt,
        "text": text_result,
        "box": box_result,
        "seconds": {"load": t_load, "set_image": t_image, "set_text_prompt": t_text},
        "peak_memory_bytes": torch.cuda.max_memory_allocated(),
    }
    with open(os.path.join(args.out, "result.json"), "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"segmented '{args.prompt}': {len(text_result['scores'])} objects from text, "
          f"{len(box_result['scores'])} with the box; set_image {t_image:.2f}s, prompt {t_text:.2f}s; "
          f"wrote {args.out}/overlay.png and result.json")


if __name__ == "__main__":
    main()
