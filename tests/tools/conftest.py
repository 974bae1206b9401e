"""The coco_mini test set: committed hand-made annotations, images written from scikit-image's samples."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

COCO_MINI = Path(__file__).resolve().parents[1] / "data" / "coco_mini"


def write_coco_mini(folder: Path) -> tuple[Path, Path]:
    """Copy instances.json and write the four sample photos as PNGs; returns (annotation file, image folder)."""
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
