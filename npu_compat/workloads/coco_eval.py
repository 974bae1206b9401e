"""COCO evaluation of SAM3: every category name prompted on every image, results as they finish.

Layout of one run with ``--output-json preds.json``:

- ``preds.json.parts/rank-<r>.jsonl``: append-only log per rank, one line per finished image;
- ``preds.json.parts/timings-rank-<r>.json``: that rank's stage samples;
- ``preds.json``: the merged COCO results list (written atomically by rank 0 at the end);
- ``preds.timings.json`` and, with ``--eval``, ``preds.metrics.json``.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from npu_compat.workloads import coco_metrics, results_log, sharding
from npu_compat.workloads.stage_timer import StageTimer, format_summary, summarize


@dataclass
class CocoEvalConfig:
    coco_ann: str
    coco_img: str = ""
    output_json: str = "out/sam3_coco_predictions.json"
    max_images: int = -1
    warmup: int = 3
    eval: bool = False
    eval_only: bool = False
    confidence_threshold: float = 0.0
    score_filter: float = 0.01
    resume: bool = False
    prompt_batch: int | None = None  # None: batched_prompts.default_prompt_batch (40 on an accelerator, 1 on the cpu)
    model: str = "sam3"
    checkpoint: str | None = None
    allow_partial_checkpoint: bool = False
    dtype: str = "fp32"
    weights_dtype: str = "fp32"  # 'bf16': low-precision layers store bf16 weights (workloads/weights_dtype.py)
    sequential: bool = False
    capture: str = "off"  # the batched prompts' grounding: off, auto, graph or compile (sam3/captured_prompts.py)
    seed: int = 0
    rle_workers: int = 1  # in-process RLE threads, used only when rle_processes resolves to 0
    rle_processes: int | None = None  # worker processes; None: one per CPU core (0 on a 1-core host)
    progress: bool = True


def parts_dir(output_json: str | Path) -> Path:
    return Path(f"{output_json}.parts")


def sidecar(output_json: str | Path, kind: str) -> Path:
    p = Path(output_json)
    return p.with_name(f"{p.stem}.{kind}.json")


def load_image(path: Path) -> Any:
    """Open an image as RGB; raises OSError/ValueError for a missing or corrupt file."""
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")


class ImageRunner:
    """Runs one image through SAM3 in batched or sequential (seed-style) mode."""

    def __init__(self, model: torch.nn.Module, device: torch.device, names: Sequence[str], cat_ids: Sequence[int],
                 config: CocoEvalConfig, timer: StageTimer) -> None:
        from npu_compat.sam3 import batched_prompts
        from npu_compat.sam3.postprocess import DevicePostprocessor

        self.bp = batched_prompts
        self.model, self.device, self.names, self.cat_ids = model, device, list(names), list(cat_ids)
        self.config, self.timer = config, timer
        self.processor = batched_prompts.make_processor(model, device, config.confidence_threshold)
        self.post = DevicePostprocessor(workers=config.rle_workers, processes=config.rle_processes)
        self.text = None
        if not config.sequential:  # once per run: every image reuses these features
            self.text = batched_prompts.encode_prompts(model, self.names, device)
        self.captured = None
        if config.capture != "off" and not config.sequential:  # one graph per batch size, for every image
            from npu_compat.sam3.captured_prompts import CapturedPrompts

            self.captured = CapturedPrompts(model, device, config.capture)

    def run(self, image_id: int, image: Any) -> Any:
        """Returns a future (batched) or the records list (sequential)."""
        from npu_compat.sam3.postprocess import select_detections, seed_style_records

        with self.timer.stage("encode"):
            feats = self.bp.encode_image(self.processor, image)
        if self.config.sequential:
            records: list[dict[str, Any]] = []
            for name, cat in zip(self.names, self.cat_ids):
                with self.timer.stage("prompts"):
                    one = self.bp.ground_prompt_sequentially(self.processor, feats, name)
                with self.timer.stage("postprocess"):
                    records += seed_style_records(image_id, cat, one.masks, one.scores, self.config.score_filter,
                                                  feats.height, feats.width)
            return records
        with self.timer.stage("prompts"):
            if self.captured is None:
                result = self.bp.ground_prompts(self.model, feats, self.text, self.device, self.config.prompt_batch)
            else:
                result = self.captured.ground_prompts(feats, self.text, self.config.prompt_batch)
        with self.timer.stage("postprocess"):
            selection = select_detections(result.scores, result.mask_logits, self.config.confidence_threshold,
                                          self.config.score_filter)
            return self.post.submit(image_id, self.cat_ids, selection, feats.height, feats.width)

    def close(self) -> None:
        self.post.close()


def _infer(config: CocoEvalConfig, session: Any, shard: sharding.ShardInfo, coco: Any,
           image_ids: list[int], log: results_log.ResultsLog) -> tuple[dict[str, list[float]], int]:
    from tqdm import tqdm

    from npu_compat.workloads.model_loading import autocast_for, build_model, synchronizer
    from npu_compat.workloads.weights_dtype import cast_weights

    done = results_log.finished_image_ids(parts_dir(config.output_json)) if config.resume else set()
    todo = [i for i in sharding.take_shard(image_ids, shard) if i not in done]
    cats = coco.loadCats(sorted(coco.getCatIds()))
    if not todo:
        return {}, 0
    device = session.target.device()
    timer = StageTimer(synchronizer(device), warmup=config.warmup)
    skipped = 0
    with torch.inference_mode(), autocast_for(device, config.dtype):
        model = build_model(config.model, config.checkpoint, device, config.seed, config.allow_partial_checkpoint)
        cast_weights(model, config.weights_dtype)
        runner = ImageRunner(model, device, [c["name"] for c in cats], [c["id"] for c in cats], config, timer)
        pending: tuple[int, Any] | None = None
        bar = tqdm(todo, desc=f"coco rank {shard.rank}" if shard.distributed else "coco", unit="img",
                   disable=not config.progress or not shard.is_main, file=sys.stderr)
        try:
            for image_id in bar:
                info = coco.loadImgs(image_id)[0]
                try:
                    image = load_image(Path(config.coco_img) / info["file_name"])
                except (OSError, ValueError) as err:
                    skipped += 1
                    bar.write(f"skipped image {image_id} ({info['file_name']}): {err}", file=sys.stderr)
                    log.append(results_log.ImageEntry(image_id, "skipped", error=f"{type(err).__name__}: {err}"))
                    continue
                with timer.stage("end_to_end"):
                    out = runner.run(image_id, image)
                if pending is not None:  # the previous image's RLE ran while this one computed
                    log.append(results_log.ImageEntry(pending[0], "ok", pending[1].result()))
                pending = None
                if isinstance(out, list):
                    log.append(results_log.ImageEntry(image_id, "ok", out))
                else:
                    pending = (image_id, out)
                timer.end_image()
            if pending is not None:
                log.append(results_log.ImageEntry(pending[0], "ok", pending[1].result()))
        finally:
            runner.close()
    return dict(timer.samples), skipped


def _merge(config: CocoEvalConfig, image_ids: list[int]) -> tuple[list[dict[str, Any]], list[int], int]:
    entries = results_log.merge_entries(parts_dir(config.output_json), image_ids)
    records = [r for e in entries if e.status == "ok" for r in e.records]
    ok_ids = [e.image_id for e in entries if e.status == "ok"]
    return records, ok_ids, sum(e.status == "skipped" for e in entries)


def _merge_timings(folder: Path) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for path in sorted(folder.glob("timings-rank-*.json")):
        for name, values in json.loads(path.read_text()).items():
            merged.setdefault(name, []).extend(values)
    return merged


def evaluate_file(config: CocoEvalConfig, coco: Any | None = None) -> dict[str, dict[str, float]]:
    """``--eval-only``: evaluate an existing predictions file on the images it covers."""
    coco = coco or coco_metrics.load_coco(config.coco_ann)
    records = load_predictions(config, coco)
    image_ids = sorted({r["image_id"] for r in records})
    metrics = coco_metrics.evaluate_all(coco, records, image_ids)
    results_log.write_json_atomic(sidecar(Path(config.output_json), "metrics"), metrics)
    return metrics


def load_predictions(config: CocoEvalConfig, coco: Any) -> list[dict[str, Any]]:
    """The predictions file of ``--eval-only``, checked against the ground truth ``coco``."""
    path = Path(config.output_json)
    if not path.is_file():
        raise coco_metrics.CocoInputError(f"predictions file {path} does not exist",
                                          "run without --eval-only first, or pass --output-json")
    try:
        records = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise coco_metrics.CocoInputError(f"predictions file {path} is not JSON ({err})", "rerun the inference") from err
    coco_metrics.check_predictions(coco, records, path)
    return records


def check_capture(mode: str, device: Any) -> None:
    """``--capture`` against the target (``graph`` needs cuda or npu), as a one-line input error."""
    from npu_compat.sam3.captured_prompts import resolve_mode
    from npu_compat.workloads.inputs import InputError

    try:
        resolve_mode(mode, device)
    except ValueError as err:
        raise InputError(str(err), "--capture auto picks what the target supports") from None


def validate(config: CocoEvalConfig) -> Any:
    """Every input checked before a model is built; returns the loaded COCO ground truth."""
    from npu_compat.workloads import inputs
    from npu_compat.workloads.checkpoints import read_checkpoint
    from npu_compat.workloads.weights_dtype import check_weights_dtype

    check_weights_dtype(config.weights_dtype, config.dtype)
    if config.capture != "off" and config.sequential:
        raise inputs.InputError("--capture applies to the batched prompts, not to --sequential",
                                "drop one of --capture and --sequential")
    coco = coco_metrics.load_coco(config.coco_ann)
    if config.eval_only:
        load_predictions(config, coco)
        return coco
    if not config.coco_img:
        raise inputs.InputError("no image folder given", "pass --coco-img /path/to/val2017")
    if not Path(config.coco_img).is_dir():
        raise inputs.InputError(f"image folder {config.coco_img} does not exist or is not a folder",
                                "pass --coco-img with the folder of the images named in --coco-ann")
    if config.max_images == 0 or config.max_images < -1:
        raise inputs.InputError(f"--max-images {config.max_images}", "give a number >= 1, or -1 for all images")
    inputs.check_output_file(config.output_json, "--output-json")
    if config.checkpoint:
        read_checkpoint(config.checkpoint)  # memory-mapped, so cheap; refuses a file that is not a checkpoint
    if config.resume:
        for path in results_log.log_files(parts_dir(config.output_json)):
            for _ in results_log.read_entries(path):  # a corrupt line stops here, before the build
                pass
    return coco


def run_coco_eval(config: CocoEvalConfig, session: Any, shard: sharding.ShardInfo | None = None,
                  coco: Any | None = None) -> dict[str, Any]:
    """The whole run on this rank; rank 0 returns the merged summary (others return their own part).

    Rank 0 holds ``<output-json>.lock`` for the run: a second run on the same output is refused.
    """
    from npu_compat.workloads.run_lock import run_lock

    shard = shard or sharding.shard_from_env()
    coco = coco or validate(config)
    if config.eval_only:
        return {"metrics": evaluate_file(config, coco)}
    check_capture(config.capture, session.target.device())  # before the lock and any file
    with run_lock(config.output_json) if shard.is_main else contextlib.nullcontext():
        return _run(config, session, shard, coco)


def _run(config: CocoEvalConfig, session: Any, shard: sharding.ShardInfo, coco: Any) -> dict[str, Any]:
    image_ids = sorted(coco.getImgIds())
    if config.max_images > 0:
        image_ids = image_ids[:config.max_images]
    folder = parts_dir(config.output_json)
    sharding.init_process_group(shard, session.target.caps.dist_backend)
    try:
        if shard.is_main and not config.resume and folder.exists():
            shutil.rmtree(folder)
        sharding.barrier(shard)
        log = results_log.ResultsLog(folder / f"rank-{shard.rank}.jsonl", resume=config.resume)
        try:
            samples, skipped_now = _infer(config, session, shard, coco, image_ids, log)
        finally:
            log.close()
        results_log.write_json_atomic(folder / f"timings-rank-{shard.rank}.json", samples)
        sharding.barrier(shard)
    finally:
        sharding.destroy_process_group(shard)
    if not shard.is_main:
        return {"rank": shard.rank, "skipped": skipped_now}
    records, ok_ids, skipped = _merge(config, image_ids)
    results_log.write_json_atomic(config.output_json, records)
    timings = summarize(_merge_timings(folder))
    results_log.write_json_atomic(sidecar(config.output_json, "timings"), timings)
    summary: dict[str, Any] = {"images": len(image_ids), "done": len(ok_ids), "skipped": skipped,
                               "records": len(records), "timings_ms": timings, "output_json": str(config.output_json),
                               "mode": "sequential" if config.sequential else "batched"}
    if config.eval:
        summary["metrics"] = coco_metrics.evaluate_all(coco, records, ok_ids)
        results_log.write_json_atomic(sidecar(config.output_json, "metrics"), summary["metrics"])
    return summary


def format_run_summary(summary: dict[str, Any]) -> str:
    lines = []
    if "images" in summary:
        lines.append(f"{summary['mode']}: {summary['done']}/{summary['images']} images done, "
                     f"{summary['skipped']} skipped (missing or corrupt), {summary['records']} predictions"
                     + (f" -> {summary['output_json']}" if summary.get("output_json") else ""))
    if summary.get("timings_ms"):
        lines.append(format_summary(summary["timings_ms"]))
    if summary.get("metrics"):
        lines.append(coco_metrics.format_metrics(summary["metrics"]))
    return "\n".join(lines)
