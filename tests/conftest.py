"""Shared fixtures. The repo root is put on sys.path so tests can import ``npu_compat``."""
from __future__ import annotations

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
