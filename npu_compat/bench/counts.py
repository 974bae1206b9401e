"""Device ops and host syncs per unit of work: per prompt, per image at N prompts, per video frame.

Two paths on the same model, image and prompts:

- ``upstream``: upstream's own loop, as a user script writes it: ``set_image``, then per prompt
  ``set_text_prompt`` (the text encoded again, one grounding forward, masks upsampled on the device) and
  the masks and scores to the host (``seed_style_records``);
- per video frame: upstream's propagation with the video predictor of each version at hand (0.1.4's
  ``Sam3VideoPredictor``, and SAM 3.1's multiplex predictor where sam3@96914d2 is imported), sync rules
  off and on;
- ``kit``: ``set_image``, the prompts' text features cached once per run (not counted per image),
  ``ground_prompts`` (``prompt_batch`` prompts per grounding forward), ``select_detections`` and the
  postprocessor's transfers (``transfer_chunks``, as its feeder thread does them, run in this thread so every
  op is seen); its workers' host-side work on those host copies is not device work and is not counted.

Each path is counted with the shim's sync rules on (``after``) and with upstream's own functions put back
(``before``), so the table shows what the rules remove. Counts come from ``op_counter.DispatchCounter``
(``host_reads=True``: on the cpu target every host read of tensor data counts as the sync it would be on
an accelerator).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import torch

from npu_compat.bench.op_counter import Counts, DispatchCounter, count


@contextlib.contextmanager
def rules_off(rule_keys: Sequence[str]) -> Iterator[None]:
    """Upstream's own functions back in place of the shim's ``rule_keys`` rows while the block runs."""
    from npu_compat import shim

    session = shim.current()
    swapped = []
    for item in getattr(session.patcher, "installed", []) if session else []:
        if item.rule.key in rule_keys:
            current = getattr(item.owner, item.rule.attr)
            swapped.append((item.owner, item.rule.attr, current))
            setattr(item.owner, item.rule.attr, item.raw)
    try:
        yield
    finally:
        for owner, attr, current in swapped:
            setattr(owner, attr, current)


def sync_rule_keys() -> list[str]:
    from npu_compat.sam3.sync_rules import sync_rules

    return [rule.key for rule in sync_rules()]


def upstream_prompt(processor: Any, feats: Any, prompt: str, category: int = 1) -> list[dict[str, Any]]:
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.postprocess import seed_style_records

    one = bp.ground_prompt_sequentially(processor, feats, prompt)
    return seed_style_records(0, category, one.masks, one.scores, 0.01, feats.height, feats.width)


def upstream_image(processor: Any, image: Any, prompts: Sequence[str]) -> int:
    from npu_compat.sam3 import batched_prompts as bp

    feats = bp.encode_image(processor, image)
    return sum(len(upstream_prompt(processor, feats, p, i)) for i, p in enumerate(prompts))


def kit_grounding(model: torch.nn.Module, feats: Any, text: Any, device: torch.device, prompt_batch: int,
                  host_work: Callable[[], Any] = contextlib.nullcontext,
                  ground: Callable[[Any, Any, int], Any] | None = None) -> int:
    """The kit's path after the image encode: grounding from cached text features, the scores to the host, the
    kept masks to the host in blocks; ``host_work()`` wraps what runs on host data (not device work).
    ``ground(feats, text, prompt_batch)`` replaces ``ground_prompts`` (the captured path's)."""
    import numpy as np

    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.postprocess import records_parts, select_detections, transfer_chunks

    if ground is None:
        result = bp.ground_prompts(model, feats, text, device, prompt_batch)
    else:
        result = ground(feats, text, prompt_batch)
    selection = select_detections(result.scores, result.mask_logits, 0.0, 0.01)
    buffer = np.empty((8, *selection.all_mask_logits.shape[2:]), np.float32)
    records = 0
    for host, start, stop in transfer_chunks(selection, 8):  # what the postprocessor's feeder does
        rows = host.take_into(start, stop, buffer)
        with host_work():  # what its workers do, on the host
            records += len(records_parts(torch.from_numpy(buffer[:rows]), feats.height, feats.width)[1])
    return records


def kit_image(model: torch.nn.Module, processor: Any, image: Any, text: Any, device: torch.device,
              prompt_batch: int, host_work: Callable[[], Any] = contextlib.nullcontext) -> int:
    """One image through the kit's path: ``set_image`` then ``kit_grounding``."""
    from npu_compat.sam3 import batched_prompts as bp

    return kit_grounding(model, bp.encode_image(processor, image), text, device, prompt_batch, host_work)


def _row(name: str, counts: Counts, units: int, unit: str) -> dict[str, Any]:
    return {"name": name, "unit": unit, "units": units, **counts.per(units), "total": counts.as_dict()}


def _sum(a: Counts, b: Counts) -> Counts:
    return Counts(a.ops + b.ops, a.kernels + b.kernels, a.syncs + b.syncs, a.copies_in + b.copies_in,
                  a.by_op + b.by_op, a.sites + b.sites)


def count_image_paths(model: torch.nn.Module, device: torch.device, image: Any, prompts: Sequence[str],
                      prompt_batch: int, measure_loop: bool = True) -> list[dict[str, Any]]:
    """Rows: upstream one prompt, upstream image at N prompts, kit image at N prompts; each before/after.

    The image encode is counted once and added to both image rows of each phase (the sync rules do not
    touch the image encoder). ``measure_loop=False`` (full-size runs) leaves out the upstream image row,
    whose per-prompt counts are the one-prompt row's plus the encode's share."""
    from npu_compat.sam3 import batched_prompts as bp

    processor = bp.make_processor(model, device)
    rows = []
    with torch.inference_mode():
        bp.encode_image(processor, image)  # warm: first-call work (position encodings) is not per image
        encode, feats = count(lambda: bp.encode_image(processor, image))
        text = bp.encode_prompts(model, list(prompts), device)
        upstream_prompt(processor, feats, prompts[0])  # warm caches (the decoder's coordinate cache)
        rows.append(_row("image encode (set_image), both paths", encode, 1, "image"))
        for phase in ("before", "after"):
            scope = rules_off(sync_rule_keys()) if phase == "before" else contextlib.nullcontext()
            with scope:
                one, _ = count(lambda: upstream_prompt(processor, feats, prompts[0]))
                loop = count(lambda: upstream_image(processor, image, prompts))[0] if measure_loop else None
                with DispatchCounter(host_reads=True) as counter:
                    kit_grounding(model, feats, text, device, prompt_batch, counter.pause)
                kit = _sum(encode, counter.counts)
            rows.append(_row(f"upstream: one prompt ({phase})", one, 1, "prompt"))
            if loop is not None:
                rows.append(_row(f"upstream: image at {len(prompts)} prompts ({phase})", loop, len(prompts), "prompt"))
            rows.append(_row(f"kit: image at {len(prompts)} prompts ({phase})", kit, len(prompts), "prompt"))
        text_once, _ = count(lambda: bp.encode_prompts(model, list(prompts), device))
        rows.append(_row(f"kit: text features of {len(prompts)} prompts, once per run", text_once, len(prompts),
                         "prompt"))
    return rows


def count_video(predictor: Any, video_path: str, frames: int, prompt: str = "object",
                name: str = "upstream video: propagation") -> dict[str, Any]:
    """Ops and syncs per frame of upstream's propagation (text prompt on frame 0, then forward)."""
    session = predictor.handle_request({"type": "start_session", "resource_path": video_path})["session_id"]
    try:
        predictor.handle_request({"type": "add_prompt", "session_id": session, "frame_index": 0, "text": prompt})

        def propagate() -> int:
            stream = predictor.handle_stream_request({"type": "propagate_in_video", "session_id": session,
                                                      "start_frame_index": 0, "propagation_direction": "forward"})
            return sum(1 for _ in stream)

        counts, seen = count(propagate)
    finally:
        predictor.handle_request({"type": "close_session", "session_id": session})
    return _row(name, counts, max(seen, 1), "frame")


def count_video_versions(build: Callable[[str], Any], video_path: str, frames: int,
                         versions: Sequence[str]) -> list[dict[str, Any]]:
    """Per frame, per video model version (``build(version)`` gives its predictor): upstream's own
    functions (``(before)``, the sync rules off) and with the kit's sync rules. The 0.1.4 row keeps
    its old name, ``upstream video: propagation``; 3.1's says ``sam3.1``."""
    rows = []
    for version in versions:
        label = "upstream video" if version == "sam3" else f"upstream video {version}"
        predictor = build(version)
        with rules_off(sync_rule_keys()):
            rows.append(count_video(predictor, video_path, frames, name=f"{label}: propagation (before)"))
        rows.append(count_video(predictor, video_path, frames, name=f"{label}: propagation"))
    return rows


__all__ = ["rules_off", "sync_rule_keys", "upstream_prompt", "upstream_image", "kit_grounding", "kit_image",
           "count_image_paths",
           "count_video", "count_video_versions"]
