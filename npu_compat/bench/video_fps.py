"""``video``: the kit's video path (``run_video_job``: upstream's predictor through the shim) on a short synthetic
clip, frames per second and where the time goes, per autocast variant of one built model.

Variants (``video_dtype``): "shim" is the shim's autocast policy around the video model's calls (``auto``:
upstream's bf16 where the target has native bf16, fp32 where bf16 would be emulated); "fp32" keeps the video
model out of autocast whatever the host. Upstream's video model also casts its neck features to bf16 itself
(``sam3_image.py``), which breaks without autocast; this kit's patch series fixes that, so fp32 video (and
"shim" on a host without native bf16) runs on the patched tree (``tools/verify_patches.py apply``, first on
``PYTHONPATH``).

Where the time goes: every top-level part of the video model is timed (``VIDEO_STAGES``, exclusive seconds,
``npu_compat.bench.stage_timer``) inside the two phases, the text prompt (``add_prompt``) and the propagation
(``propagate_in_video``); what no part claims is host-side work (the tracker's planning, association, masklet
bookkeeping). Upstream's detector works one chunk of frames ahead (one frame per rank): the prompt on frame 0
also runs the backbone and detector on frame 1, so the prompt step holds two frames' encodes.

Random weights rarely pass upstream's detection thresholds (0.5, and 0.7 for a new object), so the tracker
would have nothing to do. ``det_threshold`` lowers both for the run and ``max_objects`` caps the objects
tracked (upstream's ``max_num_objects``: the highest-scoring detections are kept): an explicit bench option,
reported with the results.

SAM 3.1 (``version="sam3.1"``, where the importable sam3 is sam3@96914d2): upstream's multiplex predictor
(``build_sam3_predictor(version="sam3.1")``; the tiny one for ``model="tiny"``), timed the same way with its own
part paths and function owners (``STAGES["sam3.1"]``). Its tracker has no ``sam_prompt_encoder`` (its prompt
encoder is the interactive one, used by point and box refinements, not by a text prompt): such a part is not
guessed at but listed in the result's ``absent_stages``.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from npu_compat.bench.op_counter import DispatchCounter
from npu_compat.bench.stage_timer import REST, StageTimer

VARIANTS = ("shim", "fp32")
HOST_WORK = "host-side work (tracker planning, bookkeeping)"


@contextlib.contextmanager
def video_dtype(dtype: str) -> Iterator[None]:
    """"fp32" keeps the video model's calls made inside this block out of autocast; "shim" changes nothing."""
    if dtype == "shim":
        yield
        return
    if dtype != "fp32":
        raise ValueError(f"the video dtype is one of {', '.join(VARIANTS)}, not {dtype!r}")
    from npu_compat.sam3 import video

    saved = video._autocast_factory
    video._autocast_factory = lambda ctx: contextlib.nullcontext
    try:
        yield
    finally:
        video._autocast_factory = saved


def _attr(root: Any, path: str) -> Any:
    for name in path.split("."):
        root = getattr(root, name, None)
        if root is None:
            return None
    return root


# label -> parts of the video model (attribute paths from the model) whose ``forward`` is timed
MODULE_STAGES = (
    ("image backbone: ViT trunk", "detector.backbone.vision_backbone.trunk"),
    ("image backbone: necks", "detector.backbone.vision_backbone"),
    ("text encoder", "detector.backbone.language_backbone"),
    ("detector: geometry encoder", "detector.geometry_encoder"),
    ("detector: fusion encoder", "detector.transformer.encoder"),
    ("detector: decoder", "detector.transformer.decoder"),
    ("detector: scoring", "detector.dot_prod_scoring"),
    ("detector: segmentation head", "detector.segmentation_head"),
    ("tracker: memory attention", "tracker.transformer.encoder"),
    ("tracker: memory encoder", "tracker.maskmem_backbone"),
    ("tracker: prompt encoder", "tracker.sam_prompt_encoder"),
    ("tracker: mask decoder", "tracker.sam_mask_decoder"),
)
# label -> functions of upstream's modules, timed where they are looked up
FUNCTION_STAGES = (
    ("detector: mask NMS", "sam3.model.sam3_image", "nms_masks"),
    ("hole filling", "sam3.model.sam3_video_base", "fill_holes_in_mask_scores"),
    ("hole filling", "sam3.model.sam3_video_inference", "fill_holes_in_mask_scores"),
    ("hole filling", "sam3.model.sam3_tracking_predictor", "fill_holes_in_mask_scores"),
)
METHOD_STAGES = (("output postprocessing", "_postprocess_output"),)
# SAM 3.1's multiplex model (sam3@96914d2): the same detector paths; its tracker is a wrapper whose ``model``
# holds the parts (the multiplex mask decoder; the interactive prompt encoder and decoder of refinements)
MULTIPLEX_MODULE_STAGES = MODULE_STAGES[:8] + (
    ("tracker: memory attention", "tracker.model.transformer.encoder"),
    ("tracker: memory encoder", "tracker.model.maskmem_backbone"),
    ("tracker: prompt encoder", "tracker.model.sam_prompt_encoder"),
    ("tracker: mask decoder", "tracker.model.sam_mask_decoder"),
    ("tracker: interactive prompt encoder", "tracker.model.interactive_sam_prompt_encoder"),
    ("tracker: interactive mask decoder", "tracker.model.interactive_sam_mask_decoder"),
)
MULTIPLEX_FUNCTION_STAGES = (
    ("detector: mask NMS", "sam3.model.sam3_multiplex_detector", "nms_masks"),
    ("hole filling", "sam3.model.sam3_multiplex_base", "fill_holes_in_mask_scores"),
    ("hole filling", "sam3.model.sam3_multiplex_tracking", "fill_holes_in_mask_scores"),
)
MULTIPLEX_METHOD_STAGES = METHOD_STAGES + (("output postprocessing", "_postprocess_output_batched"),)
# video model version (``npu_compat.sam3.revision.VIDEO_VERSIONS``) -> (module, function, method) stages
STAGES = {
    "sam3": (MODULE_STAGES, FUNCTION_STAGES, METHOD_STAGES),
    "sam3.1": (MULTIPLEX_MODULE_STAGES, MULTIPLEX_FUNCTION_STAGES, MULTIPLEX_METHOD_STAGES),
}
PHASES = (("prompt", "add_prompt"), ("propagate", "propagate_in_video"))


def _stage_rows(model: Any, version: str) -> list[tuple[str, Any, str]]:
    """(label, owner or None, attribute) for every stage of ``version``; None: the model has no such part."""
    if version not in STAGES:
        raise ValueError(f"the video model version is one of {', '.join(STAGES)}, not {version!r}")
    modules, functions, methods = STAGES[version]
    rows: list[tuple[str, Any, str]] = [(label, _attr(model, path), "forward") for label, path in modules]
    for label, module, name in functions:
        owner = importlib.import_module(module)
        rows.append((label, owner if hasattr(owner, name) else None, name))
    rows += [(label, model if hasattr(model, name) else None, name) for label, name in methods]
    return rows


def absent_stages(model: Any, version: str = "sam3") -> list[str]:
    """The stage labels of ``version`` that this model has nothing for (not timed: no hook to time)."""
    rows = _stage_rows(model, version)
    present = {label for label, owner, _ in rows if owner is not None}
    return sorted({label for label, owner, _ in rows if owner is None} - present)


def video_timer(model: Any, version: str = "sam3") -> StageTimer:
    return StageTimer(_stage_rows(model, version), [(label, model, name) for label, name in PHASES])


@contextlib.contextmanager
def detection_limits(model: Any, threshold: float | None, max_objects: int | None) -> Iterator[dict[str, Any]]:
    """Upstream's detection thresholds and object cap for this block (None: upstream's own); yields what ran."""
    names = ("score_threshold_detection", "new_det_thresh", "max_num_objects")
    saved = {n: getattr(model, n) for n in names}
    if threshold is not None:
        model.score_threshold_detection = model.new_det_thresh = threshold
    if max_objects is not None:
        model.max_num_objects = max_objects
    try:
        yield {n: getattr(model, n) for n in names}
    finally:
        for n, v in saved.items():
            setattr(model, n, v)


def synthetic_clip(folder: Path, frames: int, height: int, width: int) -> Path:
    from npu_compat.sam3.video_io import synthetic_video, write_video

    folder.mkdir(parents=True, exist_ok=True)
    return write_video(folder / "clip.mp4", synthetic_video(frames, height, width), fps=10)


def _autocast_probe(model: Any, seen: list[str]) -> Any:
    """Records the autocast state the image backbone runs under (what the variant really gave it)."""
    import torch

    trunk = _attr(model, "detector.backbone.vision_backbone.trunk")

    def hook(module: Any, args: Any) -> None:
        device = next(module.parameters()).device.type
        seen.append(str(torch.get_autocast_dtype(device)).replace("torch.", "")
                    if torch.is_autocast_enabled(device) else "off (fp32)")

    return trunk.register_forward_pre_hook(hook) if trunk is not None else None


def _one_job(predictor: Any, clip: Path, out_dir: Path, model: str, prompt: str, frames: int,
             version: str = "sam3") -> dict[str, Any]:
    from npu_compat.workloads.video_run import VideoJob, run_video_job

    job = VideoJob(video=str(clip), out_dir=str(out_dir), text=prompt, model=model, version=version)
    load_before = os.getloadavg()[0]
    seen: list[str] = []
    probe = _autocast_probe(predictor.model, seen)
    timer = video_timer(predictor.model, version)
    try:
        with timer:
            result = run_video_job(job, predictor)
    finally:
        if probe is not None:
            probe.remove()
    timings = dict(result["timings_s"])
    totals = timer.totals
    per_stage = {(HOST_WORK if stage == REST else stage): seconds for stage, seconds in totals.by_stage().items()}
    return {"timings_s": timings, "autocast": sorted(set(seen)), "load_average_1min": [load_before, os.getloadavg()[0]],
            "propagate_fps": frames / timings["propagate"] if timings.get("propagate") else None,
            "end_to_end_fps": frames / (timings["prompt"] + timings["propagate"]),
            "objects_per_frame": [len(f["objects"]) for f in result["frames"]],
            "stages_s": totals.seconds, "stage_calls": totals.calls,
            "per_frame_s": {stage: seconds / frames for stage, seconds in per_stage.items()},
            "timed_share": (totals.phase_wall("prompt") + totals.phase_wall("propagate"))
            / max(timings["prompt"] + timings["propagate"], 1e-9)}


def bench_video(model: str, frames: int, height: int, width: int, prompt: str = "object", counted: bool = False,
                dtypes: Sequence[str] = ("shim",), rounds: int = 1, det_threshold: float | None = None,
                max_objects: int | None = None, warmup: bool = False, version: str | None = None) -> dict[str, Any]:
    """``rounds`` x one ``run_video_job`` per variant (text prompt on frame 0, propagation both ways) on one
    built predictor, variants interleaved (order alternating); the medians per variant and each variant's
    ratio to the first. ``warmup`` first runs each variant once on a 1-frame clip (kernel selection and
    first-call costs of that dtype out of the timed runs). ``counted`` (one variant) also counts device ops
    and host syncs of the whole job. ``version``: the video model, "sam3" or "sam3.1" (SAM 3.1's multiplex
    predictor); None: sam3.1 where the importable sam3 is sam3@96914d2, else sam3."""
    from npu_compat.sam3.revision import detect_revision
    from npu_compat.workloads.video_run import build_predictor, resolve_version

    version = resolve_version(version)

    for dtype in dtypes:
        if dtype not in VARIANTS:
            raise ValueError(f"the video dtype is one of {', '.join(VARIANTS)}, not {dtype!r}")
    samples: dict[str, list[dict[str, Any]]] = {d: [] for d in dtypes}
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        clip = synthetic_clip(Path(tmp), frames, height, width)
        start = time.perf_counter()
        predictor = build_predictor(model, None, 0, version=version)
        build_s = time.perf_counter() - start
        counter = DispatchCounter(host_reads=True) if counted else contextlib.nullcontext()
        with detection_limits(predictor.model, det_threshold, max_objects) as limits:
            if warmup:
                short = synthetic_clip(Path(tmp) / "warm-up", 1, height, width)
                for dtype in dtypes:
                    with video_dtype(dtype):
                        _one_job(predictor, short, Path(tmp) / f"warm-up-{dtype}", model, prompt, 1, version)
            for r in range(rounds):
                for i, dtype in enumerate(dtypes if r % 2 == 0 else list(reversed(dtypes))):
                    with video_dtype(dtype), (counter if counted and r == 0 and i == 0 else contextlib.nullcontext()):
                        samples[dtype].append(_one_job(predictor, clip, Path(tmp) / f"out-{r}-{dtype}", model,
                                                       prompt, frames, version))
    out: dict[str, Any] = {"model": model, "version": version, "revision": detect_revision(),
                           "absent_stages": absent_stages(predictor.model, version), "frames": frames,
                           "height": height, "width": width, "prompt": prompt,
                           "rounds": rounds, "warmup": warmup, "dtypes": list(dtypes), "build_s": round(build_s, 3),
                           "detection": limits, "lowered_thresholds": det_threshold is not None,
                           "variants": {}, "all": samples}
    for dtype, runs in samples.items():
        med = {"end_to_end_s": statistics.median(run["timings_s"]["prompt"] + run["timings_s"]["propagate"]
                                                 for run in runs)}
        med["end_to_end_fps"] = frames / med["end_to_end_s"]
        med["per_frame_s"] = {stage: statistics.median(run["per_frame_s"].get(stage, 0.0) for run in runs)
                              for stage in runs[0]["per_frame_s"]}
        med["timings_s"] = {k: statistics.median(run["timings_s"][k] for run in runs) for k in runs[0]["timings_s"]}
        prop = med["timings_s"].get("propagate")
        med["propagate_fps"] = frames / prop if prop else None
        out["variants"][dtype] = {**runs[-1], **med}
    first = dtypes[0]
    out["ratio_to_" + first] = {d: out["variants"][d]["end_to_end_s"] / out["variants"][first]["end_to_end_s"]
                                for d in dtypes[1:]}
    if counted:
        counts = counter.counts  # type: ignore[union-attr]
        out["per_frame"] = counts.per(frames)
        out["counts"] = counts.as_dict()
    return out


__all__ = ["video_dtype", "synthetic_clip", "bench_video", "video_timer", "absent_stages", "detection_limits",
           "VARIANTS", "MODULE_STAGES", "FUNCTION_STAGES", "STAGES", "HOST_WORK"]
