"""The table of known-good Ascend environment combinations, and questions asked of it.

``versions.toml`` next to this file is the single source of every pin (CANN base image, torch,
torch_npu, torchvision, triton-ascend, numpy, sam3, FFmpeg). This module only reads it.

It is stdlib-only on purpose: ``env/gen_constraints.py`` loads it by file path inside the
Dockerfile before torch or this kit is installed.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

TABLE_PATH = Path(__file__).with_name("versions.toml")

# The packages a line pins, in the order a constraints file lists them.
# Keys are table field names; values are pip distribution names.
PINNED_PACKAGES: dict[str, str] = {
    "torch": "torch",
    "torchvision": "torchvision",
    "torch_npu": "torch-npu",
    "triton_ascend": "triton-ascend",
    "numpy": "numpy",
    "sam3": "sam3",
}

_RELEASE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


class VersionTableError(ValueError):
    """The table is missing, malformed, or names an unknown line."""


@dataclass(frozen=True)
class Line:
    """One known-good combination (a row of the table)."""

    name: str
    description: str
    cann: str
    chip: str
    base_image: str
    python: str
    torch: str
    torch_index: str
    torchvision: str
    torch_npu: str
    triton_ascend: str
    numpy: str
    sam3: str
    sources: Mapping[str, str] = field(default_factory=dict)

    def pins(self) -> dict[str, str]:
        """pip distribution name -> exact version, in install order."""
        return {dist: getattr(self, key) for key, dist in PINNED_PACKAGES.items()}


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except FileNotFoundError:
        raise VersionTableError(f"version table not found at {path}; reinstall npu-compat") from None
    except tomllib.TOMLDecodeError as exc:
        raise VersionTableError(f"version table {path} is not valid TOML: {exc}") from None
    if table.get("schema") != 1 or not isinstance(table.get("lines"), dict) or not table["lines"]:
        raise VersionTableError(f"version table {path} has no schema=1 [lines.*] tables")
    return table


def load_table(path: str | Path | None = None) -> dict[str, Any]:
    """The parsed table (``versions.toml`` next to this module unless *path* is given)."""
    return _load(str(path or TABLE_PATH))


def known_lines(path: str | Path | None = None) -> list[str]:
    """Names of every line in the table, default line first."""
    table = load_table(path)
    names = sorted(table["lines"])
    default = table.get("default_line")
    if default in names:
        names.remove(default)
        names.insert(0, default)
    return names


def default_line(path: str | Path | None = None) -> str:
    """The line used when none is named."""
    table = load_table(path)
    name = table.get("default_line")
    if name not in table["lines"]:
        raise VersionTableError(f"default_line {name!r} is not a [lines.*] table")
    return name


def get_line(name: str | None = None, path: str | Path | None = None) -> Line:
    """The line called *name* (the default line when None)."""
    table = load_table(path)
    name = name or default_line(path)
    row = table["lines"].get(name)
    if row is None:
        raise VersionTableError(f"unknown line {name!r}; known lines: {', '.join(known_lines(path))}")
    try:
        return Line(name=name, sources=dict(row.get("sources", {})),
                    **{k: str(v) for k, v in row.items() if k != "sources"})
    except TypeError as exc:
        raise VersionTableError(f"line {name!r} in the version table is malformed: {exc}") from None


def ffmpeg_spec(path: str | Path | None = None) -> dict[str, Any]:
    """The ``[ffmpeg]`` table: version, sha256, url, max_major, debian_suite, debian_package."""
    return dict(load_table(path)["ffmpeg"])


def release(version: str) -> str | None:
    """``'2.7.1'`` from ``'2.7.1.post2'``, ``'2.7.1+cpu'`` or ``'v2.7.1rc1'``; None if unparseable."""
    match = _RELEASE.match(version or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return f"{major}.{minor}.{patch or 0}"


def torch_for_torch_npu(torch_npu_version: str) -> str | None:
    """The torch version a torch_npu release needs, or None if it cannot be told.

    A table row that pins this exact torch_npu wins; otherwise the rule is that torch_npu
    X.Y.Z[.postN] needs torch X.Y.Z.
    """
    for name in known_lines():
        line = get_line(name)
        if line.torch_npu == torch_npu_version:
            return line.torch
    return release(torch_npu_version)


def constraints_text(name: str | None = None, path: str | Path | None = None) -> str:
    """A pip constraints file for a line, with a header naming where it came from."""
    line = get_line(name, path)
    head = [
        f"# Generated from npu_compat/env/versions.toml, line {line.name}: {line.description}.",
        "# Do not edit: regenerate with `python env/gen_constraints.py --line "
        f"{line.name}`.",
    ]
    return "\n".join(head + [f"{dist}=={ver}" for dist, ver in line.pins().items()]) + "\n"


def match_line(installed: Mapping[str, str | None], path: str | Path | None = None) -> str | None:
    """The line whose pins all equal the *installed* versions (pip names -> version), if any.

    Local version tags (``+cpu``) are ignored: the check reports a CUDA torch separately.
    """
    for name in known_lines(path):
        pins = get_line(name, path).pins()
        if all((installed.get(dist) or "").split("+")[0] == ver for dist, ver in pins.items()):
            return name
    return None
