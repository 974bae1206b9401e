"""``image``: upstream's ``set_image`` + one text prompt, stage by stage, per dtype, dtypes interleaved."""
from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable, Sequence

import torch


def _timed(fn: Callable[[], Any], sync: Callable[[], None]) -> tuple[float, Any]:
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out


def one_image_stages(model: torch.nn.Module, processor: Any, image: Any, prompt: str, device: torch.device,
                     sync: Callable[[], None]) -> dict[str, float]:
    """Seconds of: set_image, forward_text, grounding (forward + upstream's mask upsampling), and their sum."""
    stages: dict[str, float] = {}
    stages["set_image"], state = _timed(lambda: processor.set_image(image), sync)
    stages["forward_text"], text = _timed(lambda: model.backbone.forward_text([prompt], device=device), sync)
    state["backbone_out"].update(text)
    state["geometric_prompt"] = model._get_dummy_prompt()
    stages["grounding"], _ = _timed(lambda: processor._forward_grounding(state), sync)
    stages["image_plus_prompt"] = stages["set_image"] + stages["forward_text"] + stages["grounding"]
    return stages


def bench_image(model: torch.nn.Module, image: Any, device: torch.device, dtypes: Sequence[str], rounds: int,
                prompt: str = "cat") -> dict[str, Any]:
    """One warm-up per dtype, then ``rounds`` rounds with the dtypes interleaved (order alternating);
    medians per stage, and each dtype's ratio to the first one."""
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.workloads.model_loading import autocast_for, synchronizer

    processor = bp.make_processor(model, device)
    sync = synchronizer(device)
    samples: dict[str, list[dict[str, float]]] = {d: [] for d in dtypes}
    with torch.inference_mode():
        for dtype in dtypes:
            with autocast_for(device, dtype):
                one_image_stages(model, processor, image, prompt, device, sync)
        for r in range(rounds):
            for dtype in (dtypes if r % 2 == 0 else list(reversed(dtypes))):
                gc.collect()
                with autocast_for(device, dtype):
                    samples[dtype].append(one_image_stages(model, processor, image, prompt, device, sync))
    out: dict[str, Any] = {"rounds": rounds, "prompt": prompt, "dtypes": list(dtypes), "median_s": {}, "all_s": samples}
    for dtype, runs in samples.items():
        out["median_s"][dtype] = {stage: statistics.median(run[stage] for run in runs) for stage in runs[0]}
    first = dtypes[0]
    out["ratio_to_" + first] = {
        dtype: {stage: out["median_s"][dtype][stage] / out["median_s"][first][stage] for stage in out["median_s"][first]}
        for dtype in dtypes[1:]}
    return out


__all__ = ["one_image_stages", "bench_image"]
