"""Benchmarks for issue 6: batched vs sequential prompts per image, and postprocessing alone."""
from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F


def synthetic_detections(classes: int, masks: int, size: int = 288, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random mask logits (classes, masks, size, size) and scores, shaped like SAM3's outputs."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(classes * masks, 1, 8, 8, generator=g) * 3
    logits = F.interpolate(coarse, (size, size), mode="bilinear").view(classes, masks, size, size)
    return logits, torch.rand(classes, masks, generator=g)


def bench_postprocess(classes: int, masks: int, height: int, width: int, device: torch.device,
                      workers: int = 2) -> dict[str, Any]:
    """Seed path (per class: upstream's resize + sigmoid, then per-mask host loop) vs the device path."""
    from npu_compat.sam3.postprocess import DevicePostprocessor, seed_style_records, select_detections

    logits, scores = synthetic_detections(classes, masks)
    logits, scores = logits.to(device), scores.to(device)
    start = time.perf_counter()
    seed_records = []
    for c in range(classes):
        keep = scores[c] > 0.0
        full = F.interpolate(logits[c][keep].unsqueeze(1), (height, width), mode="bilinear",
                             align_corners=False).sigmoid() > 0.5
        seed_records += seed_style_records(0, c, full.squeeze(1), scores[c][keep], 0.01)
    seed_s = time.perf_counter() - start
    start = time.perf_counter()
    with DevicePostprocessor(workers=workers) as post:
        ours = post.submit(0, list(range(classes)), select_detections(scores, logits, 0.0, 0.01), height, width).result()
    ours_s = time.perf_counter() - start
    same = sum(a == b for a, b in zip(ours, seed_records))
    return {"masks": len(ours), "seed_s": seed_s, "device_path_s": ours_s, "speedup": seed_s / ours_s,
            "identical_records": same, "records": len(seed_records)}


def bench_prompts(model_kind: str, checkpoint: str | None, prompts: int, prompt_batch: int, images: int,
                  dtype: str, session: Any) -> dict[str, Any]:
    """One run, same model and images: the seed loop (sequential) and batched mode, stage timings per image."""
    from PIL import Image
    from skimage import data

    from npu_compat.workloads.coco_eval import CocoEvalConfig, ImageRunner
    from npu_compat.workloads.model_loading import autocast_for, build_model, synchronizer
    from npu_compat.workloads.stage_timer import StageTimer

    device = session.target.device()
    names = [f"class {i}" for i in range(prompts)]
    samples = [Image.fromarray(getattr(data, n)()) for n in ("astronaut", "coffee", "chelsea", "rocket")]
    out: dict[str, Any] = {}
    with torch.inference_mode(), autocast_for(device, dtype):
        model = build_model(model_kind, checkpoint, device)
        for mode in ("sequential", "batched"):
            timer = StageTimer(synchronizer(device), warmup=1)
            config = CocoEvalConfig(coco_ann="", sequential=mode == "sequential", prompt_batch=prompt_batch)
            runner = ImageRunner(model, device, names, list(range(prompts)), config, timer)
            for i in range(images + 1):
                with timer.stage("end_to_end"):
                    result = runner.run(i, samples[i % len(samples)])
                    if not isinstance(result, list):
                        result = result.result()
                timer.end_image()
            runner.close()
            out[mode] = timer.summary()
    out["ratio_sequential_over_batched"] = {
        stage: out["sequential"][stage]["mean_ms"] / out["batched"][stage]["mean_ms"]
        for stage in out["batched"] if stage in out["sequential"]}
    return out
