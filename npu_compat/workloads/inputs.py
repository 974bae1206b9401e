"""Checks of what a user passes to the tools, run before any model is built.

Each failure is an :class:`InputError`: one line saying what is wrong and how to fix it (the
tools print it and exit with status 2). The argparse ``type=`` helpers raise
``argparse.ArgumentTypeError`` so the parser reports them the same way.

Box prompts mean one thing in every tool: ``cx,cy,w,h``, the box centre and size as fractions
of the image (or video frame) width and height, each in [0, 1], w and h > 0, and the box must lie
inside the picture. This is upstream's ``add_geometric_prompt`` convention.
"""
from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path
from typing import Any

from npu_compat.output_paths import InputError, check_output_dir, check_output_file

BOX_HELP = "box prompt cx,cy,w,h: centre and size as fractions of the picture, e.g. 0.5,0.5,0.4,0.4"
_EPS = 1e-6


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``cx,cy,w,h`` in [0, 1] with w, h > 0 and the box inside the picture."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"box {text!r}: give cx,cy,w,h as four numbers in [0,1], e.g. 0.5,0.5,0.4,0.4")
    cx, cy, w, h = values
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"box {text!r}: width and height must be > 0")
    if cx - w / 2 < -_EPS or cx + w / 2 > 1 + _EPS or cy - h / 2 < -_EPS or cy + h / 2 > 1 + _EPS:
        raise argparse.ArgumentTypeError(f"box {text!r} reaches outside the picture: keep cx-w/2 >= 0, cx+w/2 <= 1 "
                                         "(and the same for cy, h)")
    return values  # type: ignore[return-value]


def unit_interval(text: str) -> float:
    """A float in [0, 1] (score thresholds)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1]; scores are probabilities")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def int_in(low: int, high: int, why: str = "") -> Any:
    """An argparse type: a whole number in [low, high]; ``why`` says where the bound comes from."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number from {low} to {high}"
                                             + (f" ({why})" if why else ""))
        return value

    parse.__name__ = f"int_in_{low}_{high}"
    return parse


def image_count(text: str) -> int:
    """``--max-images``: a whole number >= 1, or -1 for all."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value != -1 and value < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: give a number >= 1, or -1 for all images")
    return value


MAX_SEED = 2**32 - 1
seed = int_in(0, MAX_SEED, "seeds numpy and torch")
MAX_TOP_K = 200
top_k = int_in(1, MAX_TOP_K, f"SAM3 proposes {MAX_TOP_K} detections per prompt")
MAX_PROMPT_CHARS = 200


def prompt_text(text: str) -> str:
    """A text prompt: not empty, not only spaces, short enough for SAM3's text encoder (32 tokens)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty text prompt; give a noun phrase such as 'person'")
    if len(text) > MAX_PROMPT_CHARS:
        raise argparse.ArgumentTypeError(f"text prompt of {len(text)} characters; SAM3's text encoder reads 32 tokens "
                                         f"and drops the rest: give a noun phrase of at most {MAX_PROMPT_CHARS} "
                                         "characters, such as 'person'")
    return text


def check_readable_file(path: str | os.PathLike, what: str, error: type[Exception] = InputError,
                        missing_fix: str = "check the path", folder_fix: str = "pass a file, not a folder") -> Path:
    """``path`` names a readable file, else ``error`` (one line: what is wrong and the fix)."""
    p = Path(path)
    if not p.exists():
        raise error(f"{what} {p} does not exist", missing_fix)
    if not p.is_file():
        raise error(f"{what} {p} is not a file", folder_fix)
    if not os.access(p, os.R_OK):
        raise error(f"{what} {p} is not readable", f"fix its permissions (chmod u+r {p})")
    return p


def load_image(path: str | os.PathLike) -> Any:
    """Open an image as RGB. Corrupt, non-image and decompression-bomb files are :class:`InputError`."""
    from PIL import Image

    p = check_readable_file(path, "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                return im.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputError(f"image {p} is too large to decode safely ({str(err).split('.')[0]})",
                         "downscale it (PIL's limit is Image.MAX_IMAGE_PIXELS)") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise InputError(f"image {p} cannot be decoded ({type(err).__name__}: {str(err)[:100]})",
                         "pass a PNG/JPEG/BMP/WebP/TIFF image, or re-export it") from None


__all__ = ["InputError", "BOX_HELP", "parse_box", "unit_interval", "positive_int", "non_negative_int", "int_in", "image_count",
           "seed", "top_k", "MAX_TOP_K", "MAX_PROMPT_CHARS", "prompt_text", "check_readable_file", "load_image", "check_output_dir", "check_output_file"]
