"""Benchmarks of the workloads: batched vs sequential prompts per image, and postprocessing alone."""
from __future__ import annotations

import os
import resource
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def synthetic_detections(classes: int, masks: int, size: int = 288, seed: int = 0,
                         noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random mask logits (classes, masks, size, size) and scores, shaped like SAM3's outputs;
    ``noise`` adds per-logit Gaussian noise of that standard deviation (ragged contours)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(classes * masks, 1, 8, 8, generator=g) * 3
    logits = F.interpolate(coarse, (size, size), mode="bilinear").view(classes, masks, size, size)
    if noise:
        logits = logits + noise * torch.randn(logits.shape, generator=g)
    return logits, torch.rand(classes, masks, generator=g)


def _seed_path(logits: torch.Tensor, scores: torch.Tensor, height: int, width: int) -> list[dict[str, Any]]:
    """The seed: per class upstream's resize + sigmoid, then the per-mask host loop (cv2/np.where/pycocotools)."""
    from npu_compat.sam3.postprocess import seed_style_records

    records = []
    for c in range(logits.shape[0]):
        keep = scores[c] > 0.0
        full = F.interpolate(logits[c][keep].unsqueeze(1), (height, width), mode="bilinear",
                             align_corners=False).sigmoid() > 0.5
        records += seed_style_records(0, c, full.squeeze(1), scores[c][keep], 0.01)
    return records


def _fast_path(logits: torch.Tensor, scores: torch.Tensor, height: int, width: int,
               workers: int, processes: int | None) -> list[dict[str, Any]]:
    """A fresh ``DevicePostprocessor`` per call: its process pool's start-up is inside the timing."""
    from npu_compat.sam3.postprocess import DevicePostprocessor, select_detections

    with DevicePostprocessor(workers=workers, processes=processes) as post:
        selection = select_detections(scores, logits, 0.0, 0.01)
        return post.submit(0, list(range(logits.shape[0])), selection, height, width).result()


def _cpu_s() -> float:
    """This process's CPU time plus that of its finished (joined) child processes, e.g. a closed worker pool."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), _cpu_s()
    out = fn()
    return time.perf_counter() - wall, _cpu_s() - cpu, out


def _exactness(ours: list[dict[str, Any]], seed: list[dict[str, Any]], logits: torch.Tensor,
               scores: torch.Tensor, height: int, width: int) -> dict[str, int]:
    """Records equal to the seed's; the others checked against ``interpolate > 0`` (the fast path's contract;
    the seed thresholds sigmoid > 0.5, which differs for logits in (0, ~6e-8])."""
    from pycocotools import mask as mask_util

    from npu_compat.sam3.postprocess import boxes_from_masks, resize_masks, select_detections

    selection = select_detections(scores, logits, 0.0, 0.01)
    differ = [i for i, (a, b) in enumerate(zip(ours, seed)) if a != b]
    exact = 0
    for i in differ:
        mask = resize_masks(selection.chunk(i, i + 1).float(), height, width)
        rle = mask_util.encode(np.asfortranarray(mask[0].numpy().astype(np.uint8)))
        box = boxes_from_masks(mask)[0].tolist()
        exact += ours[i]["segmentation"] == {"size": rle["size"], "counts": rle["counts"].decode("ascii")} \
            and ours[i]["bbox"] == box
    return {"records": len(seed), "identical_to_seed": len(seed) - len(differ), "other_records": len(differ),
            "others_equal_to_logit_reference": exact, "same_count": int(len(ours) == len(seed))}


def bench_postprocess(classes: int, masks: int, height: int, width: int, device: torch.device,
                      workers: int = 2, repeats: int = 1, noise: float = 0.0,
                      processes: int | None = None) -> dict[str, Any]:
    """Seed path vs the fast path on the same detections, interleaved ``repeats`` times; wall and CPU time
    (this process plus the fast path's worker processes, joined when its pool closes at the end of each run)."""
    logits, scores = synthetic_detections(classes, masks, noise=noise)
    logits, scores = logits.to(device), scores.to(device)
    times: dict[str, list[tuple[float, float]]] = {"seed": [], "fast": []}
    for _ in range(repeats):
        wall, cpu, seed_records = _timed(lambda: _seed_path(logits, scores, height, width))
        times["seed"].append((wall, cpu))
        wall, cpu, ours = _timed(lambda: _fast_path(logits, scores, height, width, workers, processes))
        times["fast"].append((wall, cpu))
    from npu_compat.sam3.postprocess import default_processes

    out: dict[str, Any] = {"masks": len(ours), "repeats": repeats, "noise": noise, "height": height, "width": width,
                           "workers": workers, "processes": default_processes() if processes is None else processes,
                           "cpu_count": os.cpu_count()}
    for name, runs in times.items():
        walls, cpus = sorted(w for w, _ in runs), sorted(c for _, c in runs)
        out[f"{name}_wall_s"] = {"min": walls[0], "median": walls[len(walls) // 2], "all": [w for w, _ in runs]}
        out[f"{name}_cpu_s_min"] = cpus[0]
    out["speedup_wall_min"] = out["seed_wall_s"]["min"] / out["fast_wall_s"]["min"]
    out["speedup_wall_median"] = out["seed_wall_s"]["median"] / out["fast_wall_s"]["median"]
    out["speedup_cpu_min"] = out["seed_cpu_s_min"] / out["fast_cpu_s_min"]
    out["exactness"] = _exactness(ours, seed_records, logits.cpu(), scores.cpu(), height, width)
    return out


def bench_prompts(model_kind: str, checkpoint: str | None, prompts: int, prompt_batch: int, images: int,
                  dtype: str, session: Any, model: torch.nn.Module | None = None, names: list[str] | None = None,
                  samples: list[Any] | None = None) -> dict[str, Any]:
    """One run, same model and images: the seed loop (sequential) and batched mode, stage timings per image
    (``images`` timed images per mode after one warm-up image; the modes run one after the other)."""
    from PIL import Image
    from skimage import data

    from npu_compat.workloads.coco_eval import CocoEvalConfig, ImageRunner
    from npu_compat.workloads.model_loading import autocast_for, build_model, synchronizer
    from npu_compat.workloads.stage_timer import StageTimer

    device = session.target.device()
    names = names or [f"class {i}" for i in range(prompts)]
    samples = samples or [Image.fromarray(getattr(data, n)()) for n in ("astronaut", "coffee", "chelsea", "rocket")]
    out: dict[str, Any] = {}
    with torch.inference_mode(), autocast_for(device, dtype):
        model = model if model is not None else build_model(model_kind, checkpoint, device)
        timers, runners = {}, {}
        for mode in ("sequential", "batched"):
            timers[mode] = StageTimer(synchronizer(device), warmup=1)
            config = CocoEvalConfig(coco_ann="", sequential=mode == "sequential", prompt_batch=prompt_batch)
            runners[mode] = ImageRunner(model, device, names, list(range(prompts)), config, timers[mode])
        try:
            for i in range(images + 1):  # modes interleaved, their order alternating per image
                for mode in (("sequential", "batched") if i % 2 == 0 else ("batched", "sequential")):
                    with timers[mode].stage("end_to_end"):
                        result = runners[mode].run(i, samples[i % len(samples)])
                        if not isinstance(result, list):
                            result = result.result()
                    timers[mode].end_image()
        finally:
            for runner in runners.values():
                runner.close()
        for mode, timer in timers.items():
            out[mode] = timer.summary()
    out["ratio_sequential_over_batched"] = {
        stage: out["sequential"][stage]["mean_ms"] / out["batched"][stage]["mean_ms"]
        for stage in out["batched"] if stage in out["sequential"]}
    return out
