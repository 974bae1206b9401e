"""One SAM3 video run for ``tools/sam3_video.py``: prompts in, overlay mp4 and per-frame JSON out.

Uses upstream's ``Sam3VideoPredictor`` request API (start_session, add_prompt, propagate_in_video,
close_session); the shim must already be applied so the predictor lands on the target.
Per-frame JSON (``frames.json``, written atomically)::

    {"video": ..., "num_frames": T, "width": W, "height": H, "fps": f, "model": ..., "version": "sam3" | "sam3.1", "device": ...,
     "prompts": {"text", "text_frame", "boxes_cxcywh" (fractions of the frame), "points" (pixels)}, "timings_s": {"load": ..., "prompt": ..., "propagate": ..., "write": ...},
     "frames": [{"frame_index": t, "objects": [{"obj_id": i, "score": p, "box_xywh": [x, y, w, h] (pixels),
                                                "area": n, "mask_rle": {"size": [H, W], "counts": "..."}}]}]}
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from npu_compat.errors import NpuCompatError
from npu_compat.sam3.revision import video_version
from npu_compat.sam3.tiny_multiplex import build_tiny_sam3_multiplex_predictor
from npu_compat.sam3.tiny_video import tiny_video_predictor_class
from npu_compat.sam3.video_io import read_video, write_video
from npu_compat.atomic_files import write_json_atomic


@dataclass(frozen=True)
class PointPrompt:
    frame: int
    x: float  # pixels
    y: float
    label: int = 1
    obj_id: int = 1000


@dataclass(frozen=True)
class VideoJob:
    video: str
    out_dir: str
    text: str | None = None
    text_frame: int = 0
    boxes: tuple[tuple[float, float, float, float], ...] = ()  # cx,cy,w,h as fractions of the frame, on text_frame
    points: tuple[PointPrompt, ...] = ()
    model: str = "tiny"
    checkpoint: str | None = None
    allow_partial_checkpoint: bool = False
    seed: int = 0
    video_backend: str = "auto"
    version: str | None = None  # "sam3" or "sam3.1" (multiplex); None: sam3.1 where the importable sam3 has it
    extra: dict[str, Any] = field(default_factory=dict)


def parse_point(spec: str) -> PointPrompt:
    """``FRAME:X,Y[:LABEL[:OBJ_ID]]`` in pixels."""
    try:
        parts = spec.split(":")
        x, y = (float(v) for v in parts[1].split(","))
        label = int(parts[2]) if len(parts) > 2 else 1
        return PointPrompt(int(parts[0]), x, y, label, int(parts[3]) if len(parts) > 3 else 1000)
    except (IndexError, ValueError) as exc:
        raise NpuCompatError(f"bad --point '{spec}'", "write FRAME:X,Y[:LABEL[:OBJ_ID]] in pixels, e.g. 3:120,80:1") from exc


def parse_box(spec: str) -> tuple[float, float, float, float]:
    """``cx,cy,w,h`` as fractions of the frame, inside it: the same box meaning as every other tool."""
    import argparse

    from npu_compat.workloads.inputs import parse_box as parse_fraction_box

    try:
        return parse_fraction_box(spec)
    except argparse.ArgumentTypeError as exc:
        raise NpuCompatError(f"bad --box: {exc}", "write cx,cy,w,h as fractions of the frame, e.g. 0.5,0.5,0.3,0.4") from None


def build_predictor(model: str, checkpoint: str | None, seed: int, allow_partial: bool = False,
                    version: str = "sam3") -> Any:
    """Upstream's predictor for ``sam3`` (random weights without a checkpoint: no download) or the tiny one.

    ``version="sam3.1"``: SAM 3.1's multiplex predictor (``build_sam3_predictor(version="sam3.1")``,
    sam3@96914d2), or its tiny counterpart (``npu_compat/sam3/tiny_multiplex.py``).

    A checkpoint is read first (a file that is not one is refused before the build); the tiny
    model's keys are checked by :func:`npu_compat.workloads.checkpoints.load_checkpoint`, the full
    model's by upstream's strict loader (its error becomes one line).
    """
    from npu_compat.workloads import checkpoints

    state = checkpoints.read_checkpoint(checkpoint) if checkpoint else None
    if checkpoint is None:
        from npu_compat.sam3.random_init import RANDOM_WEIGHTS_NOTICE

        if model == "tiny":
            sys.stderr.write(RANDOM_WEIGHTS_NOTICE)
    if model == "tiny":
        if version == "sam3.1":
            predictor = build_tiny_sam3_multiplex_predictor(seed=seed)
        else:
            predictor = tiny_video_predictor_class()(seed=seed)
        if state is not None:
            checkpoints.check_keys(predictor.model, state, checkpoint, allow_partial)
            predictor.model.load_state_dict(state, strict=False)
        return predictor
    from sam3 import model_builder

    from npu_compat.sam3.random_init import RANDOM_INIT_ENV

    if version == "sam3.1":  # its loader is not strict: missing and unexpected keys are printed by upstream
        if checkpoint is None:
            os.environ[RANDOM_INIT_ENV] = "1"  # read by the sam3.sam31.no_download row: no HF download
        return model_builder.build_sam3_predictor(version="sam3.1", checkpoint_path=checkpoint,
                                                  async_loading_frames=False)
    if checkpoint is None:
        os.environ[RANDOM_INIT_ENV] = "1"  # read by the sam3.video.random_init row: no HF download
        return model_builder.build_sam3_video_predictor(checkpoint_path=None)
    del state
    try:
        return model_builder.build_sam3_video_predictor(checkpoint_path=checkpoint,
                                                        strict_state_dict_loading=not allow_partial)
    except RuntimeError as err:
        if "state_dict" not in str(err):
            raise
        first = str(err).splitlines()[0]
        raise checkpoints.CheckpointError(f"checkpoint {checkpoint} does not match the video model ({first[:160]})",
                                          f"pass sam3.pt, or {checkpoints.PARTIAL_FLAG} to load only the matching keys") from None


def resolve_version(requested: str | None) -> str:
    """:func:`npu_compat.sam3.revision.video_version`, its error as a one-line NpuCompatError."""
    try:
        return video_version(requested)
    except ValueError as err:
        raise NpuCompatError(str(err), "put sam3@96914d2 first on PYTHONPATH, or pass --version sam3") from None


def validate_job(job: VideoJob, video: Any) -> None:
    """Prompts against the video, and the output folder, before any model is built."""
    from npu_compat.workloads.inputs import check_output_dir

    if job.text is None and not job.boxes:
        raise NpuCompatError("no text or box prompt given", "pass --text and/or --box (--point refines their objects)")
    last = video.num_frames - 1
    if not 0 <= job.text_frame <= last:
        raise NpuCompatError(f"--text-frame {job.text_frame} is outside the video ({video.num_frames} frames)",
                             f"use 0..{last}")
    for p in job.points:
        if not 0 <= p.frame <= last:
            raise NpuCompatError(f"--point frame {p.frame} is outside the video", f"use 0..{last}")
        if not (0 <= p.x < video.width and 0 <= p.y < video.height):
            raise NpuCompatError(f"--point {p.x:g},{p.y:g} is outside the {video.width}x{video.height} frame",
                                 f"use x in 0..{video.width - 1}, y in 0..{video.height - 1} (pixels)")
        if p.label not in (0, 1):
            raise NpuCompatError(f"--point label {p.label}", "use 1 (positive) or 0 (negative)")
    resolve_version(job.version)
    check_output_dir(job.out_dir)
    if job.checkpoint:
        from npu_compat.workloads.checkpoints import check_path

        check_path(job.checkpoint)


def _rle(mask: np.ndarray) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def frame_objects(outputs: dict[str, Any], width: int, height: int) -> list[dict[str, Any]]:
    ids = np.asarray(outputs["out_obj_ids"]).reshape(-1)
    probs = np.asarray(outputs["out_probs"], dtype=np.float64).reshape(-1)
    boxes = np.asarray(outputs["out_boxes_xywh"], dtype=np.float64).reshape(-1, 4)
    masks = np.asarray(outputs["out_binary_masks"]).astype(bool)
    scale = np.array([width, height, width, height], dtype=np.float64)
    return [{"obj_id": int(i), "score": float(p), "box_xywh": [round(float(v), 2) for v in b * scale],
             "area": int(m.sum()), "mask_rle": _rle(m)} for i, p, b, m in zip(ids, probs, boxes, masks)]


def overlay_frame(frame: np.ndarray, objects: list[dict[str, Any]], masks: np.ndarray) -> np.ndarray:
    import cv2

    canvas = frame.astype(np.float32)
    for obj, mask in zip(objects, masks):
        color = np.array([(obj["obj_id"] * 97) % 200 + 55, (obj["obj_id"] * 57) % 200 + 55, (obj["obj_id"] * 31) % 200 + 55])
        canvas[mask] = 0.5 * canvas[mask] + 0.5 * color
    out = canvas.clip(0, 255).astype(np.uint8)
    for obj in objects:
        x, y, w, h = (int(round(v)) for v in obj["box_xywh"])
        cv2.rectangle(out, (x, y), (x + w, y + h), (255, 255, 0), 1)
        cv2.putText(out, f"{obj['obj_id']}:{obj['score']:.2f}", (x, max(8, y - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.3,
                    (255, 255, 255), 1)
    return out


def _write_json(path: Path, data: Any) -> None:
    write_json_atomic(path, data, indent=1)


def _propagate(predictor: Any, session: str, start: int, direction: str, per_frame: dict[int, Any], total: int) -> float:
    from tqdm import tqdm

    t0 = time.perf_counter()
    stream = predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session,
                                              "start_frame_index": start, "propagation_direction": direction})
    for response in tqdm(stream, total=total, desc=f"propagate ({direction} from {start})", disable=None):
        per_frame[int(response["frame_index"])] = response["outputs"]
    return time.perf_counter() - t0


def run_video_job(job: VideoJob, predictor: Any | None = None) -> dict[str, Any]:
    """Text/box prompt, propagate, then each point prompt and a forward propagation from its frame;
    write ``overlay.mp4`` and ``frames.json`` under ``job.out_dir``. A frame's result is its latest output."""
    out_dir = Path(job.out_dir)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    video = read_video(job.video, job.video_backend)
    validate_job(job, video)
    version = resolve_version(job.version)
    predictor = predictor or build_predictor(job.model, job.checkpoint, job.seed, job.allow_partial_checkpoint, version)
    out_dir.mkdir(parents=True, exist_ok=True)
    session = predictor.handle_request({"type": "start_session", "resource_path": job.video})["session_id"]
    timings["load"] = time.perf_counter() - start
    w, h = video.width, video.height
    request: dict[str, Any] = {"type": "add_prompt", "session_id": session, "frame_index": job.text_frame}
    if job.text is not None:
        request["text"] = job.text
    if job.boxes:
        request["bounding_boxes"] = [[cx - bw / 2, cy - bh / 2, bw, bh] for cx, cy, bw, bh in job.boxes]  # upstream: xywh fractions
        request["bounding_box_labels"] = [1] * len(job.boxes)
    t0 = time.perf_counter()
    predictor.handle_request(request)
    timings["prompt"] = time.perf_counter() - t0
    per_frame: dict[int, dict[str, Any]] = {}
    timings["propagate"] = _propagate(predictor, session, job.text_frame, "both", per_frame, video.num_frames)
    for p in job.points:  # upstream refines with points only after a propagation filled its cache
        t0 = time.perf_counter()
        predictor.handle_request({"type": "add_prompt", "session_id": session, "frame_index": p.frame,
                                  "points": [[p.x / w, p.y / h]], "point_labels": [p.label], "obj_id": p.obj_id})
        timings["prompt"] += time.perf_counter() - t0
        timings["propagate"] += _propagate(predictor, session, p.frame, "forward", per_frame, video.num_frames - p.frame)
    t0 = time.perf_counter()
    frames_json, overlays = [], []
    for t in range(video.num_frames):
        outputs = per_frame.get(t)
        objects = frame_objects(outputs, w, h) if outputs is not None else []
        masks = np.asarray(outputs["out_binary_masks"]).astype(bool) if outputs is not None else np.zeros((0, h, w), bool)
        frames_json.append({"frame_index": t, "objects": objects})
        overlays.append(overlay_frame(video.frames[t], objects, masks))
    mp4 = write_video(out_dir / "overlay.mp4", overlays, video.fps)
    predictor.handle_request({"type": "close_session", "session_id": session})
    timings["write"] = time.perf_counter() - t0
    result = {"video": job.video, "num_frames": video.num_frames, "width": w, "height": h, "fps": video.fps,
              "decoder": video.backend, "model": job.model, "version": version, "checkpoint": job.checkpoint,
              "prompts": {"text": job.text, "text_frame": job.text_frame, "boxes_cxcywh": [list(b) for b in job.boxes],
                          "points": [vars(p) for p in job.points]},
              "timings_s": {k: round(v, 3) for k, v in timings.items()}, "frames": frames_json}
    _write_json(out_dir / "frames.json", result)
    result["overlay"] = str(mp4)
    return result


__all__ = ["VideoJob", "PointPrompt", "parse_point", "parse_box", "build_predictor", "run_video_job"]
