"""Detections drawn on a picture: masks tinted, boxes clipped to the picture, ``label score`` tags that
neither overlap one another nor leave the picture.

SAM3's boxes can reach past the image (a random-weights box at y = -205, say); they are clipped here,
for the picture and for the JSON results, which keep the model's box as ``box_raw``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


def clip_box(box: Sequence[float], width: int, height: int) -> list[float]:
    """``box`` (x0, y0, x1, y1 in pixels) clipped to the picture; NaN coordinates become the picture's edge."""
    x0, y0, x1, y1 = (float(v) for v in box)
    limits = (width, height, width, height)
    fallback = (0.0, 0.0, float(width), float(height))
    out = [min(max(v, 0.0), float(lim)) if np.isfinite(v) else fb for v, lim, fb in zip((x0, y0, x1, y1), limits, fallback)]
    out[0], out[2] = min(out[0], out[2]), max(out[0], out[2])
    out[1], out[3] = min(out[1], out[3]), max(out[1], out[3])
    return out


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(boxes: Sequence[Sequence[float]], sizes: Sequence[tuple[int, int]], width: int, height: int,
                 reserved: Sequence[Rect] = ()) -> list[Rect | None]:
    """Where each label (``sizes``: width, height) goes: near its box, inside the picture, clear of the labels
    placed before it and of ``reserved`` areas. None for a label that fits nowhere (it is left out)."""
    placed: list[Rect] = list(reserved)
    out: list[Rect | None] = []
    for box, (w, h) in zip(boxes, sizes):
        x0, y0, x1, y1 = clip_box(box, width, height)
        xs = [x0 + 2, x1 - w - 2, x0 - w - 2, x1 + 2]
        ys = [y0 + 2, y0 - h - 2, y1 + 2, y1 - h - 2]
        candidates = [(x, y) for y in ys for x in xs]
        step = max(h // 2, 1)
        candidates += [(x, y) for y in range(0, max(height - h, 0) + 1, step) for x in (xs[0], xs[1])]
        spot = None
        for x, y in candidates:
            x = min(max(x, 0), width - w)
            rect = (x, y, x + w, y + h)
            if x >= 0 and y >= 0 and rect[2] <= width and rect[3] <= height and \
                    not any(_overlaps(rect, other) for other in placed):
                spot = rect
                break
        out.append(spot)
        if spot is not None:
            placed.append(spot)
    return out


def font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def draw_detections(image: Any, detections: Sequence[dict[str, Any]], reserved: Sequence[Rect] = (),
                    tint: float = 0.4) -> Any:
    """``image`` (PIL) with each detection (``label``, ``score``, ``box`` in pixels, ``mask`` a bool array of the
    image's size) drawn: masks tinted once per pixel, boxes clipped, labels placed by :func:`place_labels`."""
    from PIL import Image, ImageDraw

    canvas = np.asarray(image.convert("RGB")).astype(np.float32)
    height, width = canvas.shape[:2]
    rng = np.random.default_rng(0)
    colors = [tuple(int(c) for c in rng.uniform(60, 255, size=3)) for _ in detections]
    painted = np.zeros((height, width), bool)  # each pixel is tinted once, so the photo stays visible
    for det, color in zip(detections, colors):
        fresh = det["mask"] & ~painted
        canvas[fresh] = (1 - tint) * canvas[fresh] + tint * np.asarray(color, np.float32)
        painted |= det["mask"]
    out = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    small = font(max(12, height // 40))
    texts = [f"{det['label']} {det['score']:.2f}" for det in detections]
    sizes = []
    for text in texts:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=small, stroke_width=1, anchor="lt")
        sizes.append((int(right - left) + 2, int(bottom - top) + 2))
    boxes = [clip_box(det["box"], width, height) for det in detections]
    for box, color in zip(boxes, colors):
        draw.rectangle(box, outline=color, width=max(2, height // 200))
    for text, spot, color in zip(texts, place_labels(boxes, sizes, width, height, reserved), colors):
        if spot is not None:
            draw.text((spot[0] + 1, spot[1] + 1), text, fill=color, font=small, stroke_width=1,
                      stroke_fill=(0, 0, 0), anchor="lt")
    return out


__all__ = ["clip_box", "place_labels", "font", "draw_detections"]
