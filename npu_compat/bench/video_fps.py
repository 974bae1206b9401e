"""``video``: the kit's video path (``run_video_job``: upstream's predictor through the shim) on a short synthetic
clip, frames per second of the propagation and where the time goes.

``video_dtype("fp32")`` keeps the video model out of the bf16 autocast the shim otherwise scopes around its
calls (on a CPU without native bf16 that autocast is emulated and about 80x slower per matmul). Upstream's
video model also casts its neck features to bf16 itself (``sam3_image.py``), which breaks without autocast;
this kit's patch series fixes that, so fp32 video runs on the patched tree (``tools/verify_patches.py apply``,
first on ``PYTHONPATH``).
"""
from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from npu_compat.bench.op_counter import DispatchCounter


@contextlib.contextmanager
def video_dtype(dtype: str) -> Iterator[None]:
    """For a shim applied inside this block: "fp32" keeps the video model out of bf16 autocast; "shim" changes
    nothing."""
    if dtype == "shim":
        yield
        return
    if dtype != "fp32":
        raise ValueError(f"the video dtype is 'shim' or 'fp32', not {dtype!r}")
    from npu_compat.sam3 import video

    saved = video._autocast_factory
    video._autocast_factory = lambda target: contextlib.nullcontext
    try:
        yield
    finally:
        video._autocast_factory = saved


def synthetic_clip(folder: Path, frames: int, height: int, width: int) -> Path:
    from npu_compat.sam3.video_io import synthetic_video, write_video

    return write_video(folder / "clip.mp4", synthetic_video(frames, height, width), fps=10)


def bench_video(model: str, frames: int, height: int, width: int, prompt: str = "object",
                counted: bool = False) -> dict[str, Any]:
    """One ``run_video_job`` (text prompt on frame 0, propagation both ways); ``counted`` also counts
    device ops and host syncs of the whole job (slower: every op goes through the counter)."""
    from npu_compat.sam3.video_run import VideoJob, build_predictor, run_video_job

    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        clip = synthetic_clip(Path(tmp), frames, height, width)
        start = time.perf_counter()
        predictor = build_predictor(model, None, 0)
        build_s = time.perf_counter() - start
        job = VideoJob(video=str(clip), out_dir=str(Path(tmp) / "out"), text=prompt, model=model)
        counter = DispatchCounter(host_reads=True) if counted else contextlib.nullcontext()
        with counter:
            result = run_video_job(job, predictor)
    timings = dict(result["timings_s"])
    out: dict[str, Any] = {"model": model, "frames": frames, "height": height, "width": width,
                           "build_s": round(build_s, 3), "timings_s": timings,
                           "propagate_fps": frames / timings["propagate"] if timings.get("propagate") else None,
                           # upstream may run the detector over the clip when the text prompt is added:
                           "end_to_end_fps": frames / (timings["prompt"] + timings["propagate"]),
                           "objects_per_frame": [len(f["objects"]) for f in result["frames"]]}
    if counted:
        counts = counter.counts  # type: ignore[union-attr]
        out["per_frame"] = counts.per(frames)
        out["counts"] = counts.as_dict()
    return out


__all__ = ["video_dtype", "synthetic_clip", "bench_video"]
