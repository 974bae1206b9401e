"""Shared fixtures. The repo root is put on sys.path so tests can import ``npu_compat``."""
from __future__ import annotations

import contextlib

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def shim_cpu():
    """The shim applied for the cpu target, reverted after the test."""
    import npu_compat

    npu_compat.revert()
    session = npu_compat.apply(device="cpu")
    try:
        yield session
    finally:
        npu_compat.revert()


def run_python(*args: str, env: dict | None = None, cwd: str | os.PathLike | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the venv's Python in a subprocess, capturing text output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd or ROOT, timeout=timeout)


COCO_MINI = ROOT / "tests" / "data" / "coco_mini"


def write_coco_mini(folder: Path) -> tuple[Path, Path]:
    """The coco_mini test set: the committed hand-made annotations plus scikit-image's sample
    photos written as PNGs. Returns (annotation file, image folder)."""
    from PIL import Image
    from skimage import data

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        Image.fromarray(getattr(data, name)()).save(images / f"{name}.png")
    ann = folder / "instances.json"
    shutil.copy(COCO_MINI / "instances.json", ann)
    return ann, images


@pytest.fixture(scope="session")
def coco_mini(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_coco_mini(tmp_path_factory.mktemp("coco_mini"))


# SAM 3.1 (upstream sam3@96914d2) for the tests that need its source tree: $SAM3_31_SRC names a folder
# holding its sam3/ (CI cannot reach GitHub: those tests skip and say how to get it).
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


@contextlib.contextmanager
def cpu_shim(**options):
    """The shim on the cpu target for the length of a ``with`` block, from a reverted start."""
    import npu_compat

    npu_compat.revert()
    session = npu_compat.apply(device="cpu", **options)
    try:
        yield session
    finally:
        npu_compat.revert()
