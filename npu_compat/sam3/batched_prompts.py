"""Batched text grounding for SAM3: many prompts on one image in one grounding forward.

Upstream's ``Sam3Processor.set_text_prompt`` encodes one text and runs one grounding forward
per call. Here:

- ``encode_prompts`` runs the text encoder once per run for every prompt (COCO: the 80 class
  names) and keeps the features on the device;
- ``encode_image`` runs the image encoder once per image (through upstream's processor, so
  both evaluation modes see the very same image features);
- ``ground_prompts`` gives ``forward_grounding`` one ``FindStage`` entry per prompt
  (``img_ids`` all 0, ``text_ids`` 0..k-1) and a dummy geometric prompt of the same width,
  ``prompt_batch`` prompts per forward, and runs the segmentation head inside that forward
  ``mask_batch`` prompts at a time. One grounding forward dispatches about 2,400 device ops on
  the full model whatever its width (about 60 of them in the segmentation head), so wide forwards
  divide them over many prompts; the memory per prompt is nearly all the segmentation head's
  (its 288 x 288 pixel features: about 0.27 GB per prompt in fp32 on the full model), which
  ``mask_batch`` bounds. The mask logits of every prompt (200 x 288 x 288 float32, 66 MB per
  prompt on the full model) are the result and are kept.

``ground_prompt_sequentially`` is the seed's one-prompt-at-a-time loop through upstream's
``set_text_prompt``: the honest baseline, same model, same outputs.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch


@dataclass
class TextFeatures:
    """Encoded prompts, on the device: ``features``/``embeds`` (seq, N, d), ``mask`` (N, seq)."""

    prompts: list[str]
    features: torch.Tensor
    mask: torch.Tensor
    embeds: torch.Tensor

    def backbone_entries(self, start: int, stop: int) -> dict[str, torch.Tensor]:
        """The ``backbone_out`` entries upstream's grounding reads, for prompts ``start:stop``."""
        return {
            "language_features": self.features[:, start:stop],
            "language_mask": self.mask[start:stop],
            "language_embeds": self.embeds[:, start:stop],
        }


@dataclass
class ImageFeatures:
    """One encoded image: upstream's processor state (``backbone_out``) and the original size."""

    state: dict[str, Any]
    height: int
    width: int


@dataclass
class GroundingResult:
    """Raw detections for N prompts on one image, on the device.

    ``scores`` (N, Q) are sigmoid(logit) x sigmoid(presence), as upstream computes them;
    ``boxes_cxcywh`` (N, Q, 4) are normalised to [0, 1]; ``mask_logits`` (N, Q, h, w) are at
    the model's mask resolution (288 x 288 for the full model).
    """

    scores: torch.Tensor
    boxes_cxcywh: torch.Tensor
    mask_logits: torch.Tensor


@torch.inference_mode()
def encode_prompts(model: torch.nn.Module, prompts: Sequence[str], device: torch.device | str,
                   chunk_size: int = 32) -> TextFeatures:
    """Run the text encoder once for all ``prompts`` (``chunk_size`` at a time) and keep the features."""
    if not prompts:
        raise ValueError("no prompts to encode; give at least one text prompt")
    parts: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(prompts), chunk_size):
        parts.append(model.backbone.forward_text(list(prompts[start:start + chunk_size]), device=device))
    return TextFeatures(
        prompts=list(prompts),
        features=torch.cat([p["language_features"] for p in parts], dim=1),
        mask=torch.cat([p["language_mask"] for p in parts], dim=0),
        embeds=torch.cat([p["language_embeds"] for p in parts], dim=1),
    )


def make_processor(model: torch.nn.Module, device: torch.device | str, confidence_threshold: float = 0.0) -> Any:
    """Upstream's ``Sam3Processor`` for ``model`` on ``device`` (its image transform, its single-prompt path)."""
    from sam3.model.sam3_image_processor import Sam3Processor

    return Sam3Processor(model, device=str(device), confidence_threshold=confidence_threshold)


@torch.inference_mode()
def encode_image(processor: Any, image: Any) -> ImageFeatures:
    """Encode one PIL image once; the result serves every prompt chunk of that image."""
    state = processor.set_image(image)
    return ImageFeatures(state=state, height=int(state["original_height"]), width=int(state["original_width"]))


def _find_stage(count: int, device: torch.device | str) -> Any:
    from sam3.model.data_misc import FindStage

    return FindStage(
        img_ids=torch.zeros(count, dtype=torch.long, device=device),
        text_ids=torch.arange(count, dtype=torch.long, device=device),
        input_boxes=None, input_boxes_mask=None, input_boxes_label=None,
        input_points=None, input_points_mask=None,
    )


def _scores(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    presence = outputs["presence_logit_dec"].sigmoid().unsqueeze(1)
    return (outputs["pred_logits"].sigmoid() * presence).squeeze(-1)


PROMPT_BATCH = 40  # prompts per grounding forward on an accelerator: 80 prompts in 2 forwards
CPU_PROMPT_BATCH = 1  # on the cpu target: compute-bound, one prompt per forward is the fastest (docs/workloads.md)
MASK_BATCH = 16  # prompts per segmentation-head call inside a forward: bounds its pixel features' memory


class _Rows:
    """A (total, ...) tensor filled block by block along dim 0 (no concatenation: one copy of the result)."""

    def __init__(self, total: int) -> None:
        self.total, self.filled, self.tensor = total, 0, None

    def add(self, block: torch.Tensor | None) -> None:
        if block is None:
            return
        if self.tensor is None:
            self.tensor = block if len(block) == self.total else block.new_empty((self.total, *block.shape[1:]))
        if self.tensor is not block:
            self.tensor[self.filled:self.filled + len(block)].copy_(block)
        self.filled += len(block)


@contextlib.contextmanager
def segmentation_in_chunks(model: torch.nn.Module, mask_batch: int) -> Iterator[None]:
    """While the block runs, ``model.segmentation_head`` is called ``mask_batch`` prompts at a time.

    Its per-prompt inputs (object queries, image ids, fused encoder states, prompt tokens and their mask) are
    sliced along the prompt axis and its outputs joined back: the same computation per prompt, with the pixel
    features of at most ``mask_batch`` prompts alive at once."""
    head = getattr(model, "segmentation_head", None)
    if head is None or mask_batch < 1:
        yield
        return
    forward = head.forward

    def chunked(*, backbone_feats: Any, obj_queries: torch.Tensor, image_ids: torch.Tensor,
                encoder_hidden_states: torch.Tensor, prompt: torch.Tensor | None = None,
                prompt_mask: torch.Tensor | None = None, **kwargs: Any) -> dict[str, Any]:
        total = encoder_hidden_states.shape[1]
        if total <= mask_batch:
            return forward(backbone_feats=backbone_feats, obj_queries=obj_queries, image_ids=image_ids,
                           encoder_hidden_states=encoder_hidden_states, prompt=prompt, prompt_mask=prompt_mask,
                           **kwargs)
        joined: dict[str, _Rows] = {}
        for start in range(0, total, mask_batch):
            stop = min(start + mask_batch, total)
            part = forward(backbone_feats=backbone_feats, obj_queries=obj_queries[:, start:stop],
                           image_ids=image_ids[start:stop], encoder_hidden_states=encoder_hidden_states[:, start:stop],
                           prompt=None if prompt is None else prompt[:, start:stop],
                           prompt_mask=None if prompt_mask is None else prompt_mask[start:stop], **kwargs)
            for key, value in part.items():
                joined.setdefault(key, _Rows(total)).add(value)
            del part
        return {key: rows.tensor for key, rows in joined.items()}

    previous = head.__dict__.get("forward")
    head.forward = chunked
    try:
        yield
    finally:
        if previous is None:
            del head.forward
        else:
            head.forward = previous


def default_prompt_batch(device: torch.device | str) -> int:
    """Prompts per grounding forward when none is given: on an accelerator a forward's ~2,650 op launches are
    shared by ``PROMPT_BATCH`` prompts; on the cpu, where the math dominates, a wider forward only adds memory
    traffic (full size, fp32: 2.3 s per prompt at 1 per forward, 2.7 s at 4, 2.9 s at 16)."""
    kind = device.type if isinstance(device, torch.device) else str(device).split(":")[0]
    return CPU_PROMPT_BATCH if kind == "cpu" else PROMPT_BATCH


@torch.inference_mode()
def ground_prompts(model: torch.nn.Module, image: ImageFeatures, text: TextFeatures,
                   device: torch.device | str, prompt_batch: int | None = None,
                   mask_batch: int = MASK_BATCH) -> GroundingResult:
    """Detect every prompt of ``text`` on ``image``: ``prompt_batch`` prompts per grounding forward (None:
    ``default_prompt_batch(device)``), its segmentation head ``mask_batch`` prompts at a time
    (``mask_batch >= prompt_batch``: upstream's forward as is)."""
    if prompt_batch is None:
        prompt_batch = default_prompt_batch(device)
    if prompt_batch < 1 or mask_batch < 1:
        raise ValueError(f"prompt_batch and mask_batch must be >= 1, got {prompt_batch} and {mask_batch}")
    total = len(text.prompts)
    scores, boxes, masks = _Rows(total), _Rows(total), _Rows(total)
    with segmentation_in_chunks(model, mask_batch if mask_batch < prompt_batch else 0):
        for start in range(0, total, prompt_batch):
            stop = min(start + prompt_batch, total)
            backbone_out = dict(image.state["backbone_out"])
            backbone_out.update(text.backbone_entries(start, stop))
            outputs = model.forward_grounding(
                backbone_out=backbone_out,
                find_input=_find_stage(stop - start, device),
                geometric_prompt=model._get_dummy_prompt(num_prompts=stop - start),
                find_target=None,
            )
            scores.add(_scores(outputs))
            boxes.add(outputs["pred_boxes"])
            masks.add(outputs["pred_masks"])
            del outputs
    return GroundingResult(scores=scores.tensor, boxes_cxcywh=boxes.tensor, mask_logits=masks.tensor)


@dataclass
class SequentialResult:
    """What upstream's ``set_text_prompt`` returns for one prompt: full-size masks already thresholded."""

    scores: torch.Tensor  # (K,)
    boxes_xyxy: torch.Tensor  # (K, 4), pixels
    masks: torch.Tensor  # (K, H, W) bool


@torch.inference_mode()
def ground_prompt_sequentially(processor: Any, image: ImageFeatures, prompt: str) -> SequentialResult:
    """The seed's loop body: one ``set_text_prompt`` call (text encoded again, one grounding forward)."""
    state = processor.set_text_prompt(prompt=prompt, state=image.state)
    return SequentialResult(scores=state["scores"], boxes_xyxy=state["boxes"], masks=state["masks"].squeeze(1))


__all__ = [
    "TextFeatures", "ImageFeatures", "GroundingResult", "SequentialResult",
    "encode_prompts", "make_processor", "encode_image", "ground_prompts", "ground_prompt_sequentially",
    "segmentation_in_chunks", "PROMPT_BATCH", "CPU_PROMPT_BATCH", "MASK_BATCH", "default_prompt_batch",
]
