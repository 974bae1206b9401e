"""The benchmark suite behind ``tools/bench.py``: sub-benchmarks by name, one process, JSON + Markdown out.

Each sub-benchmark is a row of ``SUITE`` (name -> function of a ``BenchConfig``) and returns a ``Result``:
Markdown-ready rows (measurement, value, unit, note) plus its raw numbers. ``run_suite`` runs the selected
ones in the given order, in this process, and stamps every result with the machine, CPU flags, device,
versions, date and exact command (``environment.describe``). ``quick`` sizes everything for CI (tiny model,
few prompts, small images): counts are exact there, timings only show that the code runs.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from npu_compat.atomic_files import write_json_atomic
from npu_compat.bench import environment
from npu_compat.sam3.batched_prompts import MASK_BATCH, PROMPT_BATCH


@dataclass
class BenchConfig:
    quick: bool = False
    model: str = "sam3"  # "sam3" or "tiny"
    dtypes: tuple[str, ...] = ("fp32",)
    prompts: int = 80
    prompt_batch: int = PROMPT_BATCH  # prompts per grounding forward; its segmentation head takes MASK_BATCH at a time
    rounds: int = 2
    video_frames: int = 3
    video_size: tuple[int, int] = (240, 320)
    video_dtypes: tuple[str, ...] = ("shim",)  # "shim": the shim's autocast policy; "fp32": none (patched tree)
    video_threshold: float | None = None  # None: upstream's detection thresholds
    video_max_objects: int | None = None
    patched_tree: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    session: Any = None
    argv: Sequence[str] | None = None

    @classmethod
    def for_quick(cls, **overrides: Any) -> "BenchConfig":
        base = dict(quick=True, model="tiny", prompts=80, prompt_batch=PROMPT_BATCH, rounds=1, video_frames=3,
                    video_size=(60, 80))
        return cls(**{**base, **overrides})


@dataclass
class Result:
    name: str
    rows: list[tuple[str, float | str, str, str]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)

    def add(self, measurement: str, value: float | str, unit: str = "", note: str = "") -> None:
        self.rows.append((measurement, value, unit, note))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "skipped": self.skipped, "environment": self.environment,
                "rows": [list(r) for r in self.rows], "raw": self.raw}


_IMAGE_CACHE: dict[str, Any] = {}


def sample_image(quick: bool) -> Any:
    """scikit-image's astronaut (512 x 512); 128 x 128 for quick runs (masks are upsampled to image size)."""
    from PIL import Image
    from skimage import data

    key = "quick" if quick else "full"
    if key not in _IMAGE_CACHE:
        image = Image.fromarray(data.astronaut())
        _IMAGE_CACHE[key] = image.resize((128, 128)) if quick else image
    return _IMAGE_CACHE[key]


_MODELS: dict[str, torch.nn.Module] = {}


def image_model(config: BenchConfig) -> torch.nn.Module:
    """One model per run, shared by the sub-benchmarks (a full SAM3 costs 3.8 GB)."""
    from npu_compat.workloads.model_loading import build_model

    if config.model not in _MODELS:
        _MODELS[config.model] = build_model(config.model, None, config.device)
    return _MODELS[config.model]


def _prompts(count: int) -> list[str]:
    from npu_compat.bench.coco_names import COCO_NAMES

    return [COCO_NAMES[i % len(COCO_NAMES)] for i in range(count)]


def bench_shim_overhead(config: BenchConfig) -> Result:
    from npu_compat.bench import shim_overhead

    result = Result("shim-overhead")
    rows = shim_overhead.apply_time(rounds=3 if config.quick else 20)
    if not config.quick:  # fresh processes that import sam3: seconds each
        rows += shim_overhead.apply_cost(processes=7)
    rows += shim_overhead.call_overhead(2000 if config.quick else 20000)
    if config.patched_tree and not config.quick:
        rows += shim_overhead.sam3_step_ratio(os.path.abspath(config.patched_tree), config.rounds)
    for m in rows:
        result.add(m.name, m.value, m.unit, m.note)
    return result


def bench_image(config: BenchConfig) -> Result:
    from npu_compat.bench.image_stages import bench_image as run

    result = Result("image")
    raw = run(image_model(config), sample_image(config.quick), config.device, list(config.dtypes), config.rounds)
    result.raw = raw
    for dtype, stages in raw["median_s"].items():
        for stage, seconds in stages.items():
            result.add(f"{config.model} {dtype}: {stage}", round(seconds * 1e3, 1), "ms", f"median of {config.rounds}")
    for dtype, ratios in raw.get(f"ratio_to_{config.dtypes[0]}", {}).items():
        for stage, ratio in ratios.items():
            name = "set_image + 1 prompt" if stage == "image_plus_prompt" else stage
            result.add(f"ratio {dtype}/{config.dtypes[0]}: {name}", round(ratio, 3), "x")
    return result


def bench_coco_prompts(config: BenchConfig) -> Result:
    from npu_compat.bench.workloads import bench_prompts

    result = Result("coco-prompts")
    prompts = 8 if config.quick else config.prompts
    raw = bench_prompts(config.model, None, prompts, min(config.prompt_batch, prompts), 1, config.dtypes[0],
                        config.session, model=image_model(config), names=_prompts(prompts),
                        samples=[sample_image(config.quick)])
    result.raw = raw
    for stage, ratio in raw["ratio_sequential_over_batched"].items():
        result.add(f"{prompts} prompts, {stage}: sequential / batched", round(ratio, 3), "x",
                   f"sequential {raw['sequential'][stage]['mean_ms']:.0f} ms, "
                   f"batched {raw['batched'][stage]['mean_ms']:.0f} ms")
    return result


def bench_postprocess(config: BenchConfig) -> Result:
    from npu_compat.bench.workloads import bench_postprocess as run

    result = Result("postprocess")
    classes, masks, height, width = (2, 16, 120, 160) if config.quick else (80, 200, 480, 640)
    for noise in (0.0, 0.5):
        raw = run(classes, masks, height, width, config.device, repeats=config.rounds, noise=noise,
                  processes=0 if config.quick else None)
        kind = "noisy" if noise else "smooth"
        result.raw[kind] = raw
        result.add(f"{kind} {classes}x{masks} at {height}x{width}: per-mask loop / kit, wall",
                   round(raw["speedup_wall_min"], 2), "x",
                   f"min of {config.rounds}: loop {raw['seed_wall_s']['min']:.2f} s, kit {raw['fast_wall_s']['min']:.2f} s;"
                   f" median ratio {raw['speedup_wall_median']:.2f}")
        result.add(f"{kind}: per-mask loop / kit, CPU time", round(raw["speedup_cpu_min"], 2), "x",
                   f"exact: {raw['exactness']['others_equal_to_logit_reference']} of "
                   f"{raw['exactness']['other_records']} records that differ from the loop equal the reference")
    return result


def bench_video(config: BenchConfig) -> Result:
    """The video model the importable sam3 offers (SAM 3.1's multiplex one on sam3@96914d2); rows are named
    with the video model version and the sam3 revision, so runs on either sam3 keep their own rows."""
    from npu_compat.bench.video_fps import HOST_WORK, bench_video as run

    result = Result("video")
    height, width = config.video_size
    dtypes = list(config.video_dtypes)
    raw = run(config.model, config.video_frames, height, width, counted=config.quick, dtypes=dtypes,
              rounds=1 if config.quick else config.rounds, det_threshold=config.video_threshold,
              max_objects=config.video_max_objects, warmup=not config.quick)
    result.raw = raw
    clip = f"{config.video_frames} frames {width}x{height}"
    limits = raw["detection"]
    lowered = (f"; detection threshold {limits['score_threshold_detection']:g}, at most {limits['max_num_objects']} "
               "objects (lowered for random weights)" if raw["lowered_thresholds"] else "")
    model = f"{config.model} {raw['version']} ({raw['revision']})"
    absent = (f"; not timed (no such part in {raw['version']}): {', '.join(raw['absent_stages'])}"
              if raw["absent_stages"] else "")
    for dtype, v in raw["variants"].items():
        name = f"{model} {dtype} (autocast {'/'.join(v['autocast']) or 'n/a'})"
        loads = "/".join(f"{a:.1f}-{b:.1f}" for run in raw["all"][dtype] for a, b in [run["load_average_1min"]])
        result.add(f"{name}: prompt + propagation, {clip}", round(v["end_to_end_fps"], 4), "frames/s",
                   f"median {v['end_to_end_s']:.2f} s of {len(raw['all'][dtype])}; objects per frame "
                   f"{v['objects_per_frame']}{lowered}; load average {loads}")
        ahead = v["stage_calls"].get("prompt", {}).get("image backbone: ViT trunk", 0)
        result.add(f"{name}: propagation alone", round(v["propagate_fps"], 3) if v["propagate_fps"] else "n/a",
                   "frames/s", f"the prompt step ran {ahead} image encode(s) (the detector works ahead of the "
                   "tracker)" if ahead > 1 else "")
        for stage in ("prompt", "propagate"):
            result.add(f"{name}: {stage} step", round(v["timings_s"][stage], 3), "s")
        for stage, seconds in sorted(v["per_frame_s"].items(), key=lambda kv: -kv[1]):
            result.add(f"{name}: per frame, {stage}", round(seconds, 3), "s", absent.lstrip("; ")
                       if stage == HOST_WORK else "")
    for dtype, ratio in raw.get(f"ratio_to_{dtypes[0]}", {}).items():
        result.add(f"{model} ratio {dtype}/{dtypes[0]}: prompt + propagation time", round(ratio, 3), "x")
    result.add(f"{model}: build", raw["build_s"], "s")
    return result


def bench_counts(config: BenchConfig) -> Result:
    from npu_compat.bench.budget import check_budget, count_key
    from npu_compat.bench.counts import count_image_paths, count_video_versions
    from npu_compat.bench.video_fps import synthetic_clip
    from npu_compat.sam3.revision import video_version
    from npu_compat.workloads.video_run import build_predictor

    result = Result("counts")
    rows = count_image_paths(image_model(config), config.device, sample_image(config.quick),
                             _prompts(config.prompts), config.prompt_batch, measure_loop=config.model == "tiny")
    with tempfile.TemporaryDirectory(prefix="bench-counts-") as tmp:
        clip = synthetic_clip(Path(tmp), 3, 60, 80)
        versions = ["sam3", "sam3.1"] if video_version(None) == "sam3.1" else ["sam3"]
        rows += count_video_versions(lambda v: build_predictor("tiny", None, 0, version=v), str(clip), 3, versions)
    result.raw = {"rows": rows, "model": config.model, "prompts": config.prompts, "prompt_batch": config.prompt_batch,
                  "mask_batch": MASK_BATCH}
    for row in rows:
        result.add(f"{row['name']}: host syncs per {row['unit']}", round(row["syncs"], 3), "",
                   f"device ops {row['ops']:.1f} (non-view {row['kernels']:.1f}), host data in {row['copies_in']:.2f}")
    result.raw["budget"] = check_budget(count_key(config.model, config.prompts, config.prompt_batch), rows)
    return result


def bench_peer_hf(config: BenchConfig) -> Result:
    from npu_compat.bench.peer_hf import bench_peer, build_hf, hf_available

    result = Result("peer-hf")
    missing = hf_available()
    if missing:
        result.skipped = missing
        return result
    prompts = 8 if config.quick else config.prompts
    hf = build_hf(config.model == "tiny", config.device, None)
    raw = bench_peer(image_model(config), hf, sample_image(config.quick), _prompts(prompts), config.device,
                     config.dtypes[0], config.rounds, min(config.prompt_batch, prompts))
    del hf
    result.raw = raw
    for name, ratio in raw["ratio_ours_over_hf"].items():
        med = raw["median_s"].get(name)
        note = f"ours {med['ours'] * 1e3:.0f} ms, HF {med['hf'] * 1e3:.0f} ms" if med else ""
        result.add(f"{config.model} {config.dtypes[0]}: {name}, ours / HF", round(ratio, 3), "x", note)
    return result


def bench_capture(config: BenchConfig) -> Result:
    """A prompt batch on a cached image, eager against the captured path (graph on cuda/npu, compile elsewhere)."""
    from npu_compat.bench.capture import count_capture, time_capture
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.workloads.model_loading import autocast_for

    result = Result("capture")
    model, device, dtype = image_model(config), config.device, config.dtypes[0]
    prompts = 8 if config.quick else config.prompts
    batch = min(config.prompt_batch, prompts)
    with torch.inference_mode(), autocast_for(device, dtype):
        feats = bp.encode_image(bp.make_processor(model, device), sample_image(config.quick))
        text = bp.encode_prompts(model, _prompts(prompts), device)
        timing = time_capture(model, device, feats, text, batch, "auto", rounds=max(config.rounds, 3))
        rows = count_capture(model, device, feats, text, batch, "auto")
    result.raw = {"timing": timing, "counts": rows, "dtype": dtype}
    label = f"{config.model} {dtype}, {batch} prompts per batch"
    result.add(f"{label}: eager per prompt", round(timing["eager_s_per_prompt"] * 1e3, 2), "ms")
    result.add(f"{label}: captured ({timing['mode']}) per prompt", round(timing["captured_s_per_prompt"] * 1e3, 2),
               "ms", f"first call (capture/compile) {timing['first_call_s']:.1f} s")
    result.add(f"{label}: eager / captured", round(timing["speedup"], 3), "x")
    for row in rows:
        result.add(f"{row['name']}: host syncs per prompt", round(row["syncs_per_prompt"], 3), "",
                   f"ops outside a graph {row['ops_outside_graph_per_prompt']:.1f} per prompt, "
                   f"replays per batch {row['replays_per_batch']:.0f}")
    return result


SUITE: dict[str, Callable[[BenchConfig], Result]] = {
    "shim-overhead": bench_shim_overhead,
    "image": bench_image,
    "coco-prompts": bench_coco_prompts,
    "postprocess": bench_postprocess,
    "video": bench_video,
    "counts": bench_counts,
    "peer-hf": bench_peer_hf,
    "capture": bench_capture,  # not in the default list (compiling takes minutes on a cpu): gpu suite
}


def run_suite(names: Sequence[str], config: BenchConfig, apply_shim: Callable[[], Any],
              done: Callable[[list[Result]], None] = lambda results: None) -> list[Result]:
    """``shim-overhead`` applies and reverts the shim itself, so it runs first and the shim is applied after it.
    ``done(results so far)`` runs after each sub-benchmark, so a long run that is stopped keeps what finished."""
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        raise ValueError(f"unknown sub-benchmark(s) {', '.join(unknown)}; choose from {', '.join(SUITE)}")
    ordered = sorted(names, key=lambda n: n != "shim-overhead")
    results = []
    for name in ordered:
        if name != "shim-overhead" and config.session is None:
            config.session = apply_shim()
            config.device = config.session.target.device()
        result = SUITE[name](config)
        result.environment = environment.describe(config.device, config.argv)
        results.append(result)
        done(results)
    return results


def write_json(path: str | Path, results: Sequence[Result]) -> None:
    """Atomically (``npu_compat.atomic_files``), with the user's usual permissions."""
    write_json_atomic(path, [r.as_dict() for r in results], indent=1)


__all__ = ["BenchConfig", "Result", "SUITE", "run_suite", "write_json", "sample_image", "image_model"]
