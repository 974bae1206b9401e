"""Shared fixtures: the real sam3 0.1.4 wheel from PyPI (cached), the committed series."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from npu_compat.patchset.series import load_series
from npu_compat.patchset.upstream import extracted_wheel

REPO = Path(__file__).resolve().parents[2]
SERIES = REPO / "patches" / "series"


@pytest.fixture(scope="session")
def sam3_014() -> Path:
    """Folder holding the pristine `sam3/` of the 0.1.4 wheel (read-only: copy before writing)."""
    return extracted_wheel("0.1.4")


@pytest.fixture(scope="session")
def series_patches():
    return load_series(SERIES)


@pytest.fixture
def sam3_copy(sam3_014: Path, tmp_path: Path) -> Path:
    """A writable copy of the pristine 0.1.4 tree."""
    target = tmp_path / "upstream"
    shutil.copytree(sam3_014, target)
    return target
