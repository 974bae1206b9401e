"""SAM3 on one image or a folder: text prompts (batched, text encoded once) and/or box prompts.

Per image it writes ``<stem>.overlay.png`` (masks, boxes, labels, scores) and ``<stem>.json``
(``detections``: prompt, score, box xyxy in pixels, COCO RLE mask) and returns stage seconds.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from npu_compat.atomic_files import write_atomic
from npu_compat.workloads.overlay import clip_box, draw_detections

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class InferConfig:
    inputs: Sequence[str]
    out: str = "out"
    prompts: Sequence[str] = ()
    boxes: Sequence[Sequence[float]] = ()  # [cx, cy, w, h] normalised to [0, 1], positive
    model: str = "sam3"
    checkpoint: str | None = None
    allow_partial_checkpoint: bool = False
    threshold: float = 0.5
    dtype: str = "fp32"
    weights_dtype: str = "fp32"  # 'bf16': low-precision layers store bf16 weights (workloads/weights_dtype.py)
    prompt_batch: int | None = None  # None: batched_prompts.default_prompt_batch (40 on an accelerator, 1 on the cpu)
    seed: int = 0
    capture: str = "off"  # the text prompts' grounding: off, auto, graph or compile (sam3/captured_prompts.py)
    timings: dict[str, float] = field(default_factory=dict)


def list_images(inputs: Sequence[str]) -> list[Path]:
    """Files named, plus the image files (by suffix) of folders named, in order."""
    from npu_compat.workloads.inputs import InputError

    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(f"{p} is neither an image file nor a folder", "pass an existing path")
    if not found:
        raise InputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {', '.join(inputs)}",
                         "pass image files or a folder that holds some")
    return found


def validate(config: InferConfig) -> list[Path]:
    """Everything checked before a model is built; returns the images to run.

    Files named on the command line are decoded here (a bad one stops the run); images found in a
    folder are decoded when their turn comes, and a bad one is skipped, said and counted.
    """
    from npu_compat.workloads import inputs
    from npu_compat.workloads.checkpoints import check_path
    from npu_compat.workloads.weights_dtype import check_weights_dtype

    check_weights_dtype(config.weights_dtype, config.dtype)
    if not config.prompts and not config.boxes:
        raise inputs.InputError("nothing to segment", "give --prompt TEXT and/or --box cx,cy,w,h")
    images = list_images(config.inputs)
    for item in config.inputs:
        if Path(item).is_file():
            inputs.load_image(item)
    inputs.check_output_dir(config.out)
    if config.checkpoint:
        check_path(config.checkpoint)
    return images


def draw_overlay(image: Any, detections: list[dict[str, Any]]) -> Any:
    from pycocotools import mask as mask_util

    return draw_detections(image, [{"label": det["prompt"], "score": det["score"], "box": det["box_xyxy"],
                                    "mask": mask_util.decode(det["segmentation"]).astype(bool)} for det in detections],
                           tint=0.5)


def clip_boxes(detections: list[dict[str, Any]], width: int, height: int) -> list[dict[str, Any]]:
    """Each detection's ``box_xyxy`` clipped to the picture; the model's box is kept as ``box_raw``."""
    return [{**det, "box_xyxy": clip_box(det["box_xyxy"], width, height), "box_raw": det["box_xyxy"]}
            for det in detections]


def _detections(prompt_names: Sequence[str], scores: torch.Tensor, boxes_cxcywh: torch.Tensor,
                mask_logits: torch.Tensor, threshold: float, height: int, width: int) -> list[dict[str, Any]]:
    from sam3.model import box_ops

    from npu_compat.sam3.postprocess import encode_rles, masks_to_host_fortran, resize_masks

    keep = scores > threshold
    prompt_idx, query_idx = keep.nonzero(as_tuple=True)
    boxes = box_ops.box_cxcywh_to_xyxy(boxes_cxcywh[prompt_idx, query_idx].float())
    boxes = boxes * torch.tensor([width, height, width, height], device=boxes.device, dtype=boxes.dtype)
    masks = resize_masks(mask_logits[prompt_idx, query_idx].float(), height, width)
    rles = encode_rles(masks_to_host_fortran(masks))
    return [{"prompt": prompt_names[p], "score": float(s), "box_xyxy": [float(v) for v in b], "segmentation": r}
            for p, s, b, r in zip(prompt_idx.tolist(), scores[prompt_idx, query_idx].float().tolist(),
                                  boxes.tolist(), rles)]


def _processor_detections(name: str, scores: torch.Tensor, boxes_xyxy: torch.Tensor,
                          masks: torch.Tensor) -> list[dict[str, Any]]:
    """Detections from upstream's processor state (already thresholded, masks at image size)."""
    from npu_compat.sam3.postprocess import encode_rles, masks_to_host_fortran

    rles = encode_rles(masks_to_host_fortran(masks))
    return [{"prompt": name, "score": float(s), "box_xyxy": [float(v) for v in b], "segmentation": r}
            for s, b, r in zip(scores.float().tolist(), boxes_xyxy.float().tolist(), rles)]


def run_image_inference(config: InferConfig, session: Any, images: list[Path] | None = None,
                        on_skip: Any = None) -> list[dict[str, Any]]:
    """Run every image; returns one summary per image (paths written, detection count, stage seconds).

    A folder image that cannot be decoded gets a summary ``{"image", "skipped": reason}`` (and
    ``on_skip(path, reason)`` is called) and the run goes on.
    """
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.captured_prompts import CapturedPrompts, resolve_mode
    from npu_compat.workloads.inputs import InputError, load_image
    from npu_compat.workloads.model_loading import autocast_for, build_model, synchronizer
    from npu_compat.workloads.weights_dtype import cast_weights

    images = validate(config) if images is None else images
    device = session.target.device()
    try:
        resolve_mode(config.capture, device)
    except ValueError as err:
        raise InputError(str(err), "--capture auto picks what the target supports") from None
    sync = synchronizer(device)
    out_dir = Path(config.out)
    summaries: list[dict[str, Any]] = []
    with torch.inference_mode(), autocast_for(device, config.dtype):
        start = time.perf_counter()
        model = build_model(config.model, config.checkpoint, device, config.seed, config.allow_partial_checkpoint)
        cast_weights(model, config.weights_dtype)
        processor = bp.make_processor(model, device, config.threshold)
        text = bp.encode_prompts(model, list(config.prompts), device) if config.prompts else None
        captured = CapturedPrompts(model, device, config.capture) if config.capture != "off" else None
        sync()
        load_s = time.perf_counter() - start
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in images:
            try:
                image = load_image(path)
            except InputError as err:
                summaries.append({"image": str(path), "skipped": str(err)})
                if on_skip is not None:
                    on_skip(path, str(err))
                continue
            seconds = {"load": load_s}
            t = time.perf_counter()
            feats = bp.encode_image(processor, image)
            sync()
            seconds["encode"] = time.perf_counter() - t
            t = time.perf_counter()
            outputs, box_detections = [], []
            if text is not None:
                if captured is None:
                    r = bp.ground_prompts(model, feats, text, device, config.prompt_batch)
                else:
                    r = captured.ground_prompts(feats, text, config.prompt_batch)
                outputs.append((list(config.prompts), r.scores, r.boxes_cxcywh, r.mask_logits))
            for box in config.boxes:
                state = processor.add_geometric_prompt(box=list(box), label=True, state=dict(feats.state))
                box_detections.append((f"box {list(box)}", state["scores"], state["boxes"], state["masks"].squeeze(1)))
            sync()
            seconds["prompt"] = time.perf_counter() - t
            t = time.perf_counter()
            detections = [d for names, s, b, m in outputs
                          for d in _detections(names, s, b, m, config.threshold, feats.height, feats.width)]
            detections += [d for name, s, b, m in box_detections for d in _processor_detections(name, s, b, m)]
            detections = clip_boxes(detections, feats.width, feats.height)
            overlay = out_dir / f"{path.stem}.overlay.png"
            picture = draw_overlay(image, detections)
            write_atomic(overlay, lambda p: picture.save(p, format="PNG"))
            seconds["postprocess"] = time.perf_counter() - t
            result = {"image": str(path), "height": feats.height, "width": feats.width, "model": config.model,
                      "checkpoint": config.checkpoint, "device": str(device), "threshold": config.threshold,
                      "detections": detections, "seconds": seconds}
            json_path = out_dir / f"{path.stem}.json"
            write_atomic(json_path, lambda p: p.write_text(json.dumps(result)))
            summaries.append({"image": str(path), "overlay": str(overlay), "json": str(json_path),
                              "detections": len(detections), "seconds": seconds})
    return summaries
