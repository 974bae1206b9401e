"""SAM 3.1 (upstream sam3@96914d2) for the tests that need its source tree: $SAM3_31_SRC names a
folder holding its ``sam3/`` (CI cannot reach GitHub: those tests skip and say how to get it)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAM31_ENV = "SAM3_31_SRC"
SAM31_HOWTO = ("set SAM3_31_SRC to a folder holding sam3/ of upstream sam3@96914d2 (SAM 3.1), e.g. from a "
               "mirror of github.com/tatsy/sam3, which carries upstream's history: "
               "git --git-dir=<mirror> archive 96914d2 sam3 pyproject.toml | tar -x -C <folder>")


def sam31_tree() -> Path | None:
    """The sam3@96914d2 tree named by $SAM3_31_SRC, or None."""
    value = os.environ.get(SAM31_ENV)
    path = Path(value) if value else None
    return path if path is not None and (path / "sam3" / "perflib" / "fa3.py").is_file() else None


@pytest.fixture(scope="session")
def sam31_env() -> dict:
    """Environment for a subprocess that imports sam3@96914d2 before the installed wheel; skips without it."""
    tree = sam31_tree()
    if tree is None:
        pytest.skip(f"no SAM 3.1 tree: {SAM31_HOWTO}")
    return {"PYTHONPATH": f"{tree}{os.pathsep}{ROOT}", "CUDA_VISIBLE_DEVICES": ""}
