"""Which upstream sam3 revision is on the path, told by its files, without importing it.

The rule pack is built before sam3 is imported (importing it first would run sam3's
module-level code unshimmed), so the revision is read from the package folder:

- ``sam3@96914d2`` (SAM 3.1, upstream 2026-07-30): has ``perflib/fa3.py`` and
  ``model/sam3_multiplex_video_predictor.py`` (``build_sam3_predictor``, Object Multiplex);
- ``sam3@99d02f2`` (upstream main, 2026-01-27): ships ``assets/bpe_simple_vocab_16e6.txt.gz``
  inside the package, which no 0.1.x wheel does;
- ``sam3==0.1.4`` (the PyPI wheels 0.1.x): neither.

A revision newer than 96914d2 that keeps those files is reported as 96914d2: the 3.1 rows
are written against the names they patch and skip a name that is gone.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

SAM31 = "sam3@96914d2"
MAIN = "sam3@99d02f2"
WHEEL = "sam3==0.1.4"
REVISIONS = (WHEEL, MAIN, SAM31)

_SAM31_FILES = ("perflib/fa3.py", "model/sam3_multiplex_video_predictor.py")
_MAIN_FILES = ("assets/bpe_simple_vocab_16e6.txt.gz",)


def sam3_folder() -> Path | None:
    """The folder of the ``sam3`` package the next ``import sam3`` would load, or None."""
    try:
        spec = importlib.util.find_spec("sam3")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def revision_of(folder: Path) -> str:
    """The revision of the sam3 package in ``folder`` (see the module docstring for the signs)."""
    if all((folder / name).is_file() for name in _SAM31_FILES):
        return SAM31
    if all((folder / name).is_file() for name in _MAIN_FILES):
        return MAIN
    return WHEEL


def detect_revision() -> str | None:
    """The revision of the importable sam3, or None when sam3 is not installed."""
    folder = sam3_folder()
    return None if folder is None else revision_of(folder)


VIDEO_VERSIONS = ("sam3", "sam3.1")
"""Video model versions, as upstream's ``build_sam3_predictor(version=...)`` names them."""


def video_version(requested: str | None) -> str:
    """The video model version to build: ``requested``, else "sam3.1" where the importable sam3 has it.

    Raises ValueError for an unknown name, or for "sam3.1" where sam3 is not sam3@96914d2 or newer.
    """
    have_31 = detect_revision() == SAM31
    if requested is None:
        return "sam3.1" if have_31 else "sam3"
    if requested not in VIDEO_VERSIONS:
        raise ValueError(f"unknown video model version {requested!r}; use one of {', '.join(VIDEO_VERSIONS)}")
    if requested == "sam3.1" and not have_31:
        raise ValueError(f"the video model sam3.1 needs upstream {SAM31} or newer; the importable sam3 is "
                         f"{detect_revision()}")
    return requested


__all__ = ["SAM31", "MAIN", "WHEEL", "REVISIONS", "VIDEO_VERSIONS", "sam3_folder", "revision_of", "detect_revision",
           "video_version"]
