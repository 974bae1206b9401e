"""Video frames in and out: an mp4 or a folder of frames, read with cv2 or decord.

- :func:`read_video` returns every frame as RGB uint8 ``(T, H, W, 3)`` plus the fps. An mp4
  is decoded with cv2 (``opencv-python-headless``) or, when only that is installed, decord;
  ``backend="auto"`` prefers cv2. A folder is read as sorted image files (``0.jpg, 1.jpg``
  numerically when the names are numbers, as upstream sorts them).
- With neither decoder importable, the error says what to install, on one line.
- :func:`write_video` writes an mp4 (cv2) atomically: a temp file, then rename.
- :func:`synthetic_video` draws moving shapes, for tests and smoke runs.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from npu_compat.errors import NpuCompatError
from npu_compat.atomic_files import atomic_path

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tiff", ".webp")
BACKENDS = ("auto", "cv2", "decord")
INSTALL_HINT = "pip install opencv-python-headless (or decord / decord2, which imports as decord)"


class VideoIOError(NpuCompatError):
    """A video cannot be read or written."""


@dataclass(frozen=True)
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    fps: float
    source: str
    backend: str

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])


def _try_import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def pick_backend(requested: str = "auto") -> str:
    """The decoder to use: ``cv2`` or ``decord``; a one-line error when none is importable."""
    if requested not in BACKENDS:
        raise VideoIOError(f"unknown video backend '{requested}'", f"use one of {', '.join(BACKENDS)}")
    order = ("cv2", "decord") if requested == "auto" else (requested,)
    for name in order:
        if _try_import(name) is not None:
            return name
    if requested == "auto":
        raise VideoIOError("no video decoder: neither cv2 nor decord can be imported", INSTALL_HINT)
    package = "opencv-python-headless" if requested == "cv2" else "decord (or decord2)"
    raise VideoIOError(f"video backend '{requested}' cannot be imported", f"pip install {package}, or use --video-backend auto")


def _read_cv2(path: str) -> tuple[np.ndarray, float]:
    cv2 = importlib.import_module("cv2")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise VideoIOError(f"cv2 cannot open video '{path}'", "check the file, or try --video-backend decord")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise VideoIOError(f"no frames decoded from '{path}'", "check that the file is a valid video")
    return np.stack(frames), fps


def _read_decord(path: str) -> tuple[np.ndarray, float]:
    decord = importlib.import_module("decord")
    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0))
    except Exception as exc:  # decord raises its own DECORDError
        raise VideoIOError(f"decord cannot open video '{path}': {exc}", "check the file, or try --video-backend cv2") from exc
    frames = reader.get_batch(list(range(len(reader)))).asnumpy()
    if frames.shape[0] == 0:
        raise VideoIOError(f"no frames decoded from '{path}'", "check that the file is a valid video")
    return np.ascontiguousarray(frames), float(reader.get_avg_fps())


def frame_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files of a frame folder, numerically sorted when every stem is a number."""
    paths = [p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise VideoIOError(f"no image frames in folder '{folder}'", f"put frames named 0.jpg, 1.jpg, ... ({', '.join(IMAGE_SUFFIXES)})")
    if all(p.stem.isdigit() for p in paths):
        return sorted(paths, key=lambda p: int(p.stem))
    return sorted(paths)


def _read_folder(folder: str, fps: float) -> tuple[np.ndarray, float]:
    from PIL import Image

    try:
        frames = [np.asarray(Image.open(p).convert("RGB")) for p in frame_paths(folder)]
    except (OSError, ValueError) as exc:
        raise VideoIOError(f"a frame in '{folder}' cannot be decoded ({exc})", "remove or re-export that frame") from None
    if len({f.shape for f in frames}) != 1:
        raise VideoIOError(f"frames in '{folder}' differ in size", "resize them to one size")
    return np.stack(frames), fps


def check_video_path(path: str | os.PathLike[str]) -> None:
    """A frame folder, or a non-empty file with a video suffix; else :class:`VideoIOError` (before any decoding)."""
    source = str(path)
    if os.path.isdir(source):
        frame_paths(source)  # a folder without frames is refused here
        return
    if not os.path.isfile(source):
        raise VideoIOError(f"video '{source}' not found", "pass an mp4 file or a folder of frames")
    if Path(source).suffix.lower() not in VIDEO_SUFFIXES:
        raise VideoIOError(f"'{source}' is not a video file", f"use one of {', '.join(VIDEO_SUFFIXES)} or a frame folder")
    if os.path.getsize(source) == 0:  # FFmpeg would print its own error before ours
        raise VideoIOError(f"video '{source}' is empty (0 bytes)", "pass a video with frames, or a frame folder")


def read_video(path: str | os.PathLike[str], backend: str = "auto", folder_fps: float = 10.0) -> Video:
    """Every frame of an mp4 (cv2 or decord) or of a frame folder, as RGB uint8."""
    source = str(path)
    if os.path.isdir(source):
        frames, fps = _read_folder(source, folder_fps)
        return Video(frames, fps, source, "folder")
    check_video_path(source)
    name = pick_backend(backend)
    frames, fps = _read_cv2(source) if name == "cv2" else _read_decord(source)
    return Video(frames, fps if fps > 0 else folder_fps, source, name)


def write_video(path: str | os.PathLike[str], frames: Sequence[np.ndarray] | np.ndarray, fps: float) -> Path:
    """Write RGB uint8 frames as an mp4 (mp4v) with cv2, atomically."""
    cv2 = _try_import("cv2")
    if cv2 is None:
        raise VideoIOError("writing an mp4 needs cv2", "pip install opencv-python-headless")
    frames = list(frames)
    if not frames:
        raise VideoIOError("no frames to write", "pass at least one frame")
    height, width = frames[0].shape[:2]
    out = Path(path)
    with atomic_path(out, suffix=".mp4") as tmp:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        try:
            if not writer.isOpened():
                raise VideoIOError(f"cv2 cannot write '{out}'", "check that this OpenCV build has an mp4 encoder")
            for frame in frames:
                writer.write(cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return out


def synthetic_video(num_frames: int = 8, height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    """Moving shapes on a dark background: a red disc moving right, a green square moving down."""
    cv2 = _try_import("cv2")
    if cv2 is None:
        raise VideoIOError("drawing a synthetic video needs cv2", "pip install opencv-python-headless")
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 40, size=(height, width, 3), dtype=np.uint8)
    frames = []
    for t in range(num_frames):
        frame = base.copy()
        cx = int(20 + t * (width - 40) / max(1, num_frames - 1))
        cv2.circle(frame, (cx, height // 3), max(4, height // 8), (220, 40, 40), -1)
        top = int(10 + t * (height - 50) / max(1, num_frames - 1))
        cv2.rectangle(frame, (width // 2, top), (width // 2 + 30, top + 30), (40, 200, 60), -1)
        frames.append(frame)
    return np.stack(frames)


__all__ = ["Video", "VideoIOError", "pick_backend", "check_video_path", "read_video", "write_video", "frame_paths", "synthetic_video",
           "INSTALL_HINT"]
