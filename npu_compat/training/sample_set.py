"""A tiny real training set: scikit-image's sample photos with COCO annotations derived from them.

Four images from three photos that ship with scikit-image (``skimage.data``): ``coins`` (a grey
photo of coins), the left and right halves of ``hubble_deep_field`` (a Hubble telescope photo)
and ``immunohistochemistry`` (a stained tissue micrograph). Four, so that one process with
batch 2 and two processes with batch 1 see the same batches. Their instances are found with classic, documented segmentations, not drawn by hand:

- coin: Sobel elevation map + watershed from dark/bright markers, holes filled (the scikit-image
  coins tutorial), regions of at least 200 px;
- galaxy: grey level above Otsu's threshold (per half), opened with a disk of radius 2;
- nucleus: hematoxylin channel (``rgb2hed``) above Otsu's threshold, opened, holes filled.

Each photo keeps its :data:`MAX_PER_IMAGE` largest regions (at least :data:`MIN_AREA` px), so
small faint objects are left unannotated. Masks are COCO RLE (pycocotools), boxes their tight
``xywh`` box, ``area`` the mask area.

:func:`derive_annotations` computes the COCO dict; the committed file
(``data/skimage_sample.coco.json``) is its output, and a test re-derives it.
:func:`write_sample_set` lays photos and annotations out the way upstream's Roboflow-100
configs expect: ``<root>/<name>/{train,test}/_annotations.coco.json`` next to the images.
The test split reuses the train photos: it checks the pipeline end to end, not generalisation.
"""
from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
from npu_compat.atomic_files import write_atomic

NAME = "skimage-sample"
"""The supercategory folder name (Roboflow layout)."""
MIN_AREA = 200
MAX_PER_IMAGE = 24
ANNOTATION_FILE = "_annotations.coco.json"
SPLITS = ("train", "test")


def _coins() -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage as ndi
    from skimage import data, filters, segmentation

    image = data.coins()
    markers = np.zeros(image.shape, dtype=np.int32)
    markers[image < 30] = 1
    markers[image > 150] = 2
    mask = segmentation.watershed(filters.sobel(image), markers) == 2
    return image, ndi.binary_fill_holes(mask)


def _galaxies(half: int) -> tuple[np.ndarray, np.ndarray]:
    from skimage import color, data, filters, morphology

    photo = data.hubble_deep_field()
    image = photo[:, : photo.shape[1] // 2] if half == 0 else photo[:, photo.shape[1] // 2 :]
    grey = color.rgb2gray(image)
    return image, morphology.opening(grey > filters.threshold_otsu(grey), morphology.disk(2))


def _nuclei() -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage as ndi
    from skimage import color, data, filters, morphology

    image = data.immunohistochemistry()
    hematoxylin = color.rgb2hed(image)[..., 0]
    mask = morphology.opening(hematoxylin > filters.threshold_otsu(hematoxylin), morphology.disk(2))
    return image, ndi.binary_fill_holes(mask)


PHOTOS: dict[str, tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]]]] = {
    "coins.png": ("coin", _coins),
    "hubble_deep_field_left.png": ("galaxy", lambda: _galaxies(0)),
    "hubble_deep_field_right.png": ("galaxy", lambda: _galaxies(1)),
    "immunohistochemistry.png": ("nucleus", _nuclei),
}
"""File name -> (category, function returning the photo and its foreground mask)."""


def _instances(mask: np.ndarray) -> list[np.ndarray]:
    from skimage import measure

    labels = measure.label(mask)
    regions = [r for r in measure.regionprops(labels) if r.area >= MIN_AREA]
    regions.sort(key=lambda r: (-r.area, r.label))
    return [labels == r.label for r in regions[:MAX_PER_IMAGE]]


def derive_annotations() -> dict[str, Any]:
    """The COCO dict (images, categories, annotations with RLE masks) for :data:`PHOTOS`."""
    from pycocotools import mask as mask_utils

    categories = sorted({category for category, _ in PHOTOS.values()})
    cat_ids = {name: i + 1 for i, name in enumerate(categories)}
    coco: dict[str, Any] = {
        "info": {"description": "scikit-image sample photos, instances by thresholding/watershed",
                 "url": "https://scikit-image.org/docs/stable/api/skimage.data.html"},
        "images": [], "annotations": [],
        "categories": [{"id": cat_ids[n], "name": n, "supercategory": NAME} for n in categories],
    }
    for image_id, (file_name, (category, load)) in enumerate(PHOTOS.items(), start=1):
        image, mask = load()
        height, width = mask.shape
        coco["images"].append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        for instance in _instances(mask):
            rle = mask_utils.encode(np.asfortranarray(instance.astype(np.uint8)))
            x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": image_id, "category_id": cat_ids[category],
                "bbox": [x, y, w, h], "area": float(mask_utils.area(rle)), "iscrowd": 0,
                "segmentation": {"size": [height, width], "counts": rle["counts"].decode("ascii")},
            })
    return coco


def committed_annotations() -> dict[str, Any]:
    """The committed COCO file (``npu_compat/training/data/skimage_sample.coco.json``)."""
    text = resources.files("npu_compat.training").joinpath("data/skimage_sample.coco.json").read_text()
    return json.loads(text)


def write_sample_set(root: str | os.PathLike[str]) -> Path:
    """Write the photos and the committed annotations under ``root/NAME/{train,test}``; returns ``root``.

    Files already present are rewritten atomically, so a concurrent reader never sees half a file.
    """
    from PIL import Image

    root = Path(root)
    coco = committed_annotations()
    photos = {name: load()[0] for name, (_, load) in PHOTOS.items()}
    for split in SPLITS:
        folder = root / NAME / split
        folder.mkdir(parents=True, exist_ok=True)
        for name, pixels in photos.items():
            write_atomic(folder / name, lambda tmp, p=pixels: Image.fromarray(p).save(tmp, format="PNG"))
        text = json.dumps(coco)
        write_atomic(folder / ANNOTATION_FILE, lambda tmp: Path(tmp).write_text(text))
    return root


def write_committed_annotations(path: str | os.PathLike[str]) -> None:
    """Regenerate the committed annotation file from :func:`derive_annotations`."""
    text = json.dumps(derive_annotations(), indent=None, separators=(",", ":")) + "\n"
    target = Path(path)
    write_atomic(target, lambda tmp: Path(tmp).write_text(text))


__all__ = ["NAME", "PHOTOS", "SPLITS", "ANNOTATION_FILE", "derive_annotations", "committed_annotations",
           "write_sample_set", "write_committed_annotations"]
