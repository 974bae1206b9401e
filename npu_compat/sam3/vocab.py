"""Find sam3's BPE vocabulary, which no sam3 0.1.x wheel ships.

``bpe_simple_vocab_16e6.txt.gz`` (1,356,917 bytes, md5 933b7abbbbde62c36f02f0e6ccde464f) is
missing from every 0.1.x wheel, and the builder's default path (``site-packages/assets/``) fails.
A byte-identical copy ships inside the PyPI package ``open-clip-torch`` (MIT).

Order: an explicit path, ``SAM3_BPE_PATH``, the path sam3's builder expects
(``site-packages/assets/``) if something put it there, then the byte-identical copy inside
the ``open-clip-torch`` package.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from npu_compat.errors import NpuCompatError

BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"
BPE_SIZE = 1_356_917
ENV_VAR = "SAM3_BPE_PATH"


def _open_clip_copy() -> Path | None:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BPE_NAME
        if candidate.is_file():
            return candidate
    return None


def _upstream_default() -> Path | None:
    spec = importlib.util.find_spec("sam3")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent.parent / "assets" / BPE_NAME


def find_bpe(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return a readable BPE vocabulary path, or raise a one-line error with the fix."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise NpuCompatError(f"BPE vocabulary not found at {path}", f"pass the path of {BPE_NAME} (--bpe)")
        return path
    for candidate in (os.environ.get(ENV_VAR), _upstream_default(), _open_clip_copy()):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise NpuCompatError(
        f"sam3's BPE vocabulary ({BPE_NAME}) is missing: no sam3 0.1.x wheel ships it",
        "pip install open-clip-torch (it carries a byte-identical copy) or pass --bpe PATH",
    )
