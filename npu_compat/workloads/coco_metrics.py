"""COCO ground truth loading with clear errors, and segm/bbox evaluation with pycocotools (12 stats)."""
from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any, Sequence

from npu_compat.errors import NpuCompatError

STAT_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


class CocoInputError(NpuCompatError):
    """The annotation file or the predictions are not usable COCO."""


def load_coco(path: str | Path) -> Any:
    """Load and check a COCO instances file: images, categories, annotation category ids."""
    from pycocotools.coco import COCO

    p = Path(path)
    if not p.is_file():
        raise CocoInputError(f"annotation file {p} does not exist", "pass --coco-ann /path/to/instances_val2017.json")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CocoInputError(f"annotation file {p} is not JSON ({err})", "pass a COCO instances_*.json file") from err
    if not isinstance(data, dict) or not {"images", "categories"} <= set(data):
        raise CocoInputError(f"{p} is not a COCO instances file (needs 'images' and 'categories' lists)",
                             "pass a COCO instances_*.json file, not a results or captions file")
    if not data["images"]:
        raise CocoInputError(f"{p} lists no images ('images' is empty)", "pass an annotation file with images")
    if not data["categories"]:
        raise CocoInputError(f"{p} lists no categories (they are the text prompts)",
                             "pass an annotation file with categories")
    image_ids = _unique_ids(p, data["images"], "images")
    known = _unique_ids(p, data["categories"], "categories")
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise CocoInputError(f"{p}: 'annotations' is not a list of objects", "pass a COCO instances_*.json file")
    for ann in annotations:
        if ann.get("category_id") not in known:
            raise CocoInputError(f"annotation {ann.get('id')} in {p} has category id {ann.get('category_id')}, "
                                 "which is not in 'categories'", "fix the annotation file or add the category")
        if ann.get("image_id") not in image_ids:
            raise CocoInputError(f"annotation {ann.get('id')} in {p} points at image id {ann.get('image_id')}, "
                                 "which is not in 'images'", "fix the annotation file or add the image")
    data.setdefault("annotations", [])
    coco = COCO()
    with contextlib.redirect_stdout(io.StringIO()):
        coco.dataset = data
        coco.createIndex()
    return coco


def _unique_ids(path: Path, entries: Any, name: str) -> set[Any]:
    """The ids of ``entries`` (a list of objects, each with a whole-number id, no two alike)."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CocoInputError(f"{path}: {name!r} is not a list of objects", "pass a COCO instances_*.json file")
    seen: set[Any] = set()
    for entry in entries:
        ident = entry.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise CocoInputError(f"{path}: an entry of {name!r} has id {ident!r}, not a whole number",
                                 "give every image and category an integer id")
        if ident in seen:
            raise CocoInputError(f"{path}: id {ident} appears twice in {name!r}",
                                 f"give every entry of {name!r} its own id")
        seen.add(ident)
    return seen


def check_predictions(coco: Any, records: Any, path: Path) -> None:
    """A predictions file: a list of {image_id, category_id, score} objects on images and categories of ``coco``,
    each score a finite number."""
    if not isinstance(records, list):
        raise CocoInputError(f"predictions file {path} holds a JSON {type(records).__name__}, not a list",
                             "pass the --output-json of an earlier run")
    images, known = set(coco.getImgIds()), set(coco.getCatIds())
    for index, rec in enumerate(records):
        if not isinstance(rec, dict) or not {"image_id", "category_id", "score"} <= set(rec):
            raise CocoInputError(f"prediction {index} in {path} is not an object with image_id, category_id and score",
                                 "pass the --output-json of an earlier run")
        score = rec["score"]
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
            raise CocoInputError(f"prediction {index} in {path} has score {score!r}, not a finite number",
                                 "rerun the inference (a NaN score means the model produced NaN)")
        if rec["image_id"] not in images:
            raise CocoInputError(f"prediction {index} in {path} is for image id {rec['image_id']}, which the "
                                 "annotation file does not list", "evaluate against the annotation file the "
                                 "predictions were made for")
    check_prediction_categories(coco, records)


def check_prediction_categories(coco: Any, records: Sequence[dict[str, Any]]) -> None:
    known = set(coco.getCatIds())
    for rec in records:
        if rec["category_id"] not in known:
            raise CocoInputError(f"prediction for image {rec['image_id']} has category id {rec['category_id']}, "
                                 "which the annotation file does not define",
                                 "evaluate against the annotation file the predictions were made for")


def evaluate(coco: Any, records: Sequence[dict[str, Any]], iou_type: str,
             image_ids: Sequence[int] | None = None) -> dict[str, float]:
    """Run COCOeval for ``iou_type`` ('segm' or 'bbox'); the 12 stats in percent (-100 = undefined)."""
    from pycocotools.cocoeval import COCOeval

    if not records:
        return {name: 0.0 for name in STAT_NAMES}
    check_prediction_categories(coco, records)
    with contextlib.redirect_stdout(io.StringIO()):
        detections = coco.loadRes([dict(r) for r in records])
        ev = COCOeval(coco, detections, iouType=iou_type)
        if image_ids is not None:
            ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: round(float(v) * 100.0, 3) for name, v in zip(STAT_NAMES, ev.stats)}


def evaluate_all(coco: Any, records: Sequence[dict[str, Any]],
                 image_ids: Sequence[int] | None = None) -> dict[str, dict[str, float]]:
    return {iou: evaluate(coco, records, iou, image_ids) for iou in ("segm", "bbox")}


def format_metrics(metrics: dict[str, dict[str, float]]) -> str:
    lines = [f"{'metric':<12}" + "".join(f"{k:>10}" for k in metrics)]
    for name in STAT_NAMES:
        lines.append(f"{name:<12}" + "".join(f"{metrics[k][name]:>10.2f}" for k in metrics))
    return "\n".join(lines)
