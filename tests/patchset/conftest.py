"""Shared fixtures: the real sam3 0.1.4 wheel from PyPI (cached), the committed series, sam3 main
at 99d02f2 when a snapshot of it is given in $SAM3_MAIN_SRC, and sam3@96914d2 (SAM 3.1) when one
is given in $SAM3_31_SRC (CI cannot reach GitHub: tests that need them skip)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from npu_compat.patchset.series import load_series
from npu_compat.patchset.upstream import extracted_wheel

REPO = Path(__file__).resolve().parents[2]
SERIES = REPO / "patches" / "series"
MAIN_SERIES = REPO / "patches" / "sam3-main-99d02f2" / "series"
MAIN_ENV = "SAM3_MAIN_SRC"
MAIN_HOWTO = ("set SAM3_MAIN_SRC to a folder holding sam3/ of facebookresearch/sam3 at 99d02f2 "
              "(git archive 99d02f2 sam3 pyproject.toml | tar -x); see docs/patches.md")
SAM31_SERIES = REPO / "patches" / "sam3-96914d2" / "series"
SAM31_ENV = "SAM3_31_SRC"
SAM31_HOWTO = ("set SAM3_31_SRC to a folder holding sam3/ at upstream 96914d2 (SAM 3.1; in the "
               "tatsy/sam3 mirror: git --git-dir=<mirror> archive 96914d2 sam3 pyproject.toml | tar -x -C DIR); "
               "see docs/patches.md")


def _snapshot(env: str) -> Path | None:
    value = os.environ.get(env)
    if not value:
        return None
    path = Path(value)
    return path if (path / "sam3" / "model_builder.py").is_file() else None


def main_snapshot() -> Path | None:
    """The sam3 main snapshot named by $SAM3_MAIN_SRC, or None."""
    return _snapshot(MAIN_ENV)


def sam31_snapshot() -> Path | None:
    """The sam3@96914d2 (SAM 3.1) snapshot named by $SAM3_31_SRC, or None."""
    return _snapshot(SAM31_ENV)


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


@pytest.fixture(scope="session")
def sam3_main() -> Path:
    """Folder holding the pristine `sam3/` of main at 99d02f2 (read-only); skips without it."""
    path = main_snapshot()
    if path is None:
        pytest.skip(f"no sam3 main snapshot: {MAIN_HOWTO}")
    return path


@pytest.fixture(scope="session")
def main_series_patches():
    return load_series(MAIN_SERIES)


@pytest.fixture(scope="session")
def sam3_31() -> Path:
    """Folder holding the pristine `sam3/` of upstream 96914d2 (read-only); skips without it."""
    path = sam31_snapshot()
    if path is None:
        pytest.skip(f"no sam3@96914d2 snapshot: {SAM31_HOWTO}")
    return path


@pytest.fixture(scope="session")
def sam31_series_patches():
    return load_series(SAM31_SERIES)
