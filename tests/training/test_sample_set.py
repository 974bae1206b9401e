"""Tests for npu_compat.training.sample_set: the committed annotations are what the documented
segmentations give, and the written set has the Roboflow layout sam3's dataset reads."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from npu_compat.training.sample_set import (
    ANNOTATION_FILE,
    NAME,
    PHOTOS,
    SPLITS,
    committed_annotations,
    derive_annotations,
)


def _mask(ann: dict) -> np.ndarray:
    rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}
    return mask_utils.decode(rle).astype(bool)


def test_committed_annotations_are_re_derived_from_the_photos() -> None:
    derived, committed = derive_annotations(), committed_annotations()
    assert derived["images"] == committed["images"] and derived["categories"] == committed["categories"]
    assert len(derived["annotations"]) == len(committed["annotations"])
    for new, old in zip(derived["annotations"], committed["annotations"]):
        assert (new["image_id"], new["category_id"]) == (old["image_id"], old["category_id"])
        a, b = _mask(new), _mask(old)
        # exact with the scikit-image this was made with; a little slack for other releases
        assert (a & b).sum() / (a | b).sum() >= 0.98, old["id"]


def test_annotations_are_consistent_coco() -> None:
    coco = committed_annotations()
    images = {i["id"]: i for i in coco["images"]}
    assert [i["file_name"] for i in coco["images"]] == list(PHOTOS)
    assert {c["name"] for c in coco["categories"]} == {"coin", "galaxy", "nucleus"}
    assert len(images) % 2 == 0, "an even number of images keeps 1- and 2-process batches equal"
    per_image = {i: 0 for i in images}
    for ann in coco["annotations"]:
        image = images[ann["image_id"]]
        mask = _mask(ann)
        assert mask.shape == (image["height"], image["width"])
        assert ann["area"] == mask.sum() > 0 and ann["iscrowd"] == 0
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann["bbox"]
        assert (x, y, x + w, y + h) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        per_image[ann["image_id"]] += 1
    assert all(n > 0 for n in per_image.values())
    coins = next(i for i in coco["images"] if i["file_name"] == "coins.png")["id"]
    assert per_image[coins] == 24  # the scikit-image coins tutorial finds 24 coins


def test_written_set_has_the_roboflow_layout(sample_root: Path) -> None:
    from PIL import Image

    for split in SPLITS:
        folder = sample_root / NAME / split
        coco = json.loads((folder / ANNOTATION_FILE).read_text())
        assert coco == committed_annotations()
        for image in coco["images"]:
            with Image.open(folder / image["file_name"]) as photo:
                assert photo.size == (image["width"], image["height"])
