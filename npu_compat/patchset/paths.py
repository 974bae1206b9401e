"""Path safety: a patch may only touch files inside the target tree."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from npu_compat.patchset.errors import PatchError

DEV_NULL = "/dev/null"


def strip_components(raw: str, strip: int = 1) -> str:
    """Drop `strip` leading components (`a/sam3/x.py` -> `sam3/x.py`), like `patch -p1`."""
    if raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1]
    if raw.startswith("/"):
        raise PatchError(f"absolute path {raw!r} in patch refused; paths must be relative to the tree")
    parts = PurePosixPath(raw).parts
    if len(parts) <= strip:
        raise PatchError(f"path {raw!r} has fewer than {strip + 1} components; regenerate with a/ b/ prefixes")
    return str(PurePosixPath(*parts[strip:]))


def check_relative(rel: str) -> None:
    """Refuse absolute paths and any `..` component."""
    if rel.startswith("/") or os.path.isabs(rel):
        raise PatchError(f"absolute path {rel!r} in patch refused; paths must be relative to the tree")
    if ".." in PurePosixPath(rel).parts:
        raise PatchError(f"path {rel!r} leaves the tree ('..'); refused, fix the patch's file names")


def resolve_inside(root: Path, rel: str) -> Path:
    """`root/rel`, refused if it is absolute, uses `..` or resolves (via symlinks) outside root."""
    check_relative(rel)
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root / rel))
    if target != real_root and real_root not in target.parents:
        raise PatchError(
            f"path {rel!r} goes through a symlink out of the tree (to {target}); refused, remove the link"
        )
    return real_root / rel
