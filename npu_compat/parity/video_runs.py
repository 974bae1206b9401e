"""The ``video`` capture run: upstream's video request API on the tiny video model of the importable sam3.

On sam3@96914d2 that is SAM 3.1's multiplex predictor (``npu_compat/sam3/tiny_multiplex.py``,
what ``build_sam3_predictor(version="sam3.1")`` builds, at small widths); on 0.1.4 and main the
SAM 3 video predictor (``npu_compat/sam3/tiny_video.py``). The run is what a user's script
does: ``start_session`` on a short synthetic clip, a text prompt on frame 0, ``propagate_in_video``
to the end, ``close_session``. The caller applies the shim first (:func:`npu_compat.parity.sam3_runs.sam3_on`)
and records the ops around this call; the model runs under the shim's own autocast policy.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from npu_compat.sam3.video_io import synthetic_video, write_video
from npu_compat.workloads.video_run import build_predictor, resolve_version

FRAMES, HEIGHT, WIDTH, FPS = 3, 96, 128, 8
PROMPT = "shape"


def capture_video(device: str, seed: int = 0) -> dict[str, Any]:
    """Run the tiny video model of the importable sam3 once; returns what ran, for the inventory's meta."""
    version = resolve_version(None)
    predictor = build_predictor("tiny", None, seed, version=version)
    with tempfile.TemporaryDirectory(prefix="npu_compat_video_") as folder:
        clip = write_video(Path(folder) / "clip.mp4", synthetic_video(FRAMES, HEIGHT, WIDTH, seed=seed), fps=FPS)
        session = predictor.handle_request({"type": "start_session", "resource_path": str(clip)})["session_id"]
        predictor.handle_request({"type": "add_prompt", "session_id": session, "frame_index": 0, "text": PROMPT})
        frames = sum(1 for _ in predictor.handle_stream_request({"type": "propagate_in_video",
                                                                 "session_id": session}))
        predictor.handle_request({"type": "close_session", "session_id": session})
    return {"version": version, "frames": frames, "size": [HEIGHT, WIDTH], "prompt": PROMPT}


__all__ = ["capture_video", "FRAMES"]
