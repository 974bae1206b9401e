"""Tests for npu_compat.workloads.coco_metrics on the coco_mini set, with real pycocotools.

Ground-truth masks go through the same writer the evaluation uses (device boxes + batched RLE
from npu_compat.sam3.postprocess): they must score 100, and the same masks shifted off the
objects must score 0.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from npu_compat.sam3.postprocess import boxes_from_masks, encode_rles, make_records, masks_to_host_fortran
from npu_compat.workloads.coco_metrics import STAT_NAMES, CocoInputError, evaluate_all, load_coco


def shift_by_half_extent(mask: torch.Tensor) -> torch.Tensor:
    """Move a mask right and down by half its box (no wrap-around): IoU with the original < 0.5."""
    x, y, w, h = (int(v) for v in boxes_from_masks(mask[None])[0].tolist())
    dy, dx = h // 2 + 1, w // 2 + 1
    out = torch.zeros_like(mask)
    out[dy:, dx:] = mask[:mask.shape[0] - dy, :mask.shape[1] - dx]
    return out


def records_from_masks(coco, shift: bool = False) -> list[dict]:
    records = []
    for image_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        masks = torch.from_numpy(np.stack([coco.annToMask(a) for a in anns]).astype(bool))
        if shift:
            masks = torch.stack([shift_by_half_extent(m) for m in masks])
        boxes = boxes_from_masks(masks).numpy()
        rles = encode_rles(masks_to_host_fortran(masks))
        records += make_records(image_id, [a["category_id"] for a in anns], [0.9] * len(anns), boxes, rles)
    return records


def test_ground_truth_through_the_writer_scores_100(coco_mini):
    coco = load_coco(coco_mini[0])
    metrics = evaluate_all(coco, records_from_masks(coco))
    for iou in ("segm", "bbox"):
        assert metrics[iou]["AP"] == pytest.approx(100.0)
        assert metrics[iou]["AP75"] == pytest.approx(100.0)
        assert metrics[iou]["AR100"] == pytest.approx(100.0)
    assert set(metrics["segm"]) == set(STAT_NAMES)


def test_shifted_ground_truth_scores_0(coco_mini):
    coco = load_coco(coco_mini[0])
    metrics = evaluate_all(coco, records_from_masks(coco, shift=True))
    for iou in ("segm", "bbox"):
        assert metrics[iou]["AP"] == 0.0
        assert metrics[iou]["AP50"] == 0.0


def test_not_coco_and_missing_category_are_clear_errors(tmp_path, coco_mini):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps([{"image_id": 1}]))
    with pytest.raises(CocoInputError, match="not a COCO instances file"):
        load_coco(bad)
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(CocoInputError, match="is not JSON"):
        load_coco(tmp_path / "broken.json")
    data = json.loads(coco_mini[0].read_text())
    data["annotations"][0]["category_id"] = 999
    (tmp_path / "cat.json").write_text(json.dumps(data))
    with pytest.raises(CocoInputError, match="category id 999"):
        load_coco(tmp_path / "cat.json")
    coco = load_coco(coco_mini[0])
    recs = records_from_masks(coco)[:1]
    recs[0]["category_id"] = 5
    with pytest.raises(CocoInputError, match="category id 5"):
        evaluate_all(coco, recs)
