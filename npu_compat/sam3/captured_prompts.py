"""The prompt path of ``batched_prompts.ground_prompts`` as one captured graph per (prompt batch, image size) bucket.

The image size of a bucket is the model's input size (its feature map), not the picture's: pictures of any size
share a bucket.

With the image encoded (``encode_image``) and the text features cached (``encode_prompts``), what runs per prompt
batch is sam3's ``forward_grounding`` (fusion encoder, decoder, scoring, segmentation head) and the scores. Eager,
that is about 2,400 op launches per forward on the full model for about 1 ms of math on an H100. Here it runs as:

- ``graph``: a CUDA graph on cuda (``torch.cuda.CUDAGraph``, warmed up on a side stream as CUDA requires) or an
  NPU graph on npu (``torch.npu.NPUGraph``): captured once per bucket on static input buffers; each batch copies
  its text features (and, when the image changed, the image features) into them, replays, and copies the
  outputs out;
- ``compile``: ``torch.compile`` (inductor by default) of the same function, one compiled entry per bucket;
- ``auto``: ``graph`` on cuda and npu, ``compile`` elsewhere; ``off``: upstream's eager forward.

A bucket that cannot be captured or compiled (a host sync, a host copy or a dynamic shape inside the region)
runs eagerly, with a one-line reason printed once for that bucket; ``strict=True`` raises instead. The sam3
rule pack removes what upstream's forward does that a graph cannot hold (``capture_rules``, ``sync_rules``).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

import torch

from npu_compat.sam3 import batched_prompts as bp

MODES = ("off", "auto", "graph", "compile")
GRAPH_DEVICES = ("cuda", "npu")


class CaptureError(RuntimeError):
    """A bucket could not be captured (or compiled) and ``strict`` asked for no eager fallback."""


def resolve_mode(mode: str, device: torch.device | str) -> str:
    """``auto`` -> ``graph`` on cuda/npu, ``compile`` elsewhere; ``graph`` on a device without graphs is an error."""
    kind = device.type if isinstance(device, torch.device) else str(device).split(":")[0]
    if mode not in MODES:
        raise ValueError(f"capture mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        return "graph" if kind in GRAPH_DEVICES else "compile"
    if mode == "graph" and kind not in GRAPH_DEVICES:
        raise ValueError(f"capture mode 'graph' needs a cuda or npu device (graphs), got {kind}; "
                         "use 'compile' or 'auto'")
    return mode


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for key in sorted(value) for t in _tensors(value[key])]
    return []


def _clone(value: Any) -> Any:
    """The same structure with every tensor cloned: the static buffers of a captured graph."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, list):
        return [_clone(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_clone(item) for item in value)
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    return value


def grounding_outputs(model: torch.nn.Module, backbone_out: dict[str, Any], find_input: Any,
                      geometric_prompt: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The captured region: one grounding forward -> (scores, boxes_cxcywh, mask_logits)."""
    outputs = model.forward_grounding(backbone_out=backbone_out, find_input=find_input,
                                      geometric_prompt=geometric_prompt, find_target=None)
    return bp._scores(outputs), outputs["pred_boxes"], outputs["pred_masks"]


@dataclass
class _Bucket:
    key: tuple[int, ...]
    run: Callable[[dict[str, Any], int, int, bp.TextFeatures], tuple[torch.Tensor, ...]] | None = None
    reason: str = ""
    replays: int = 0


class CapturedPrompts:
    """``ground_prompts`` with the grounding forward captured per bucket; see the module docstring.

    ``log`` receives the one-line fallback reasons (default: stderr). ``backend`` is ``torch.compile``'s."""

    def __init__(self, model: torch.nn.Module, device: torch.device | str, mode: str = "auto",
                 strict: bool = False, backend: str = "inductor", warmup: int = 2,
                 log: Callable[[str], None] | None = None) -> None:
        self.model, self.device = model, torch.device(device)
        self.mode = resolve_mode(mode, self.device)
        self.strict, self.backend, self.warmup = strict, backend, warmup
        self.log = log or (lambda line: print(line, file=sys.stderr))
        self.buckets: dict[tuple[int, ...], _Bucket] = {}

    # -- public ------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def ground_prompts(self, image: bp.ImageFeatures, text: bp.TextFeatures, prompt_batch: int | None = None,
                       mask_batch: int = bp.MASK_BATCH) -> bp.GroundingResult:
        """As ``batched_prompts.ground_prompts``, each batch through its bucket's graph (or compiled function)."""
        if prompt_batch is None:
            prompt_batch = bp.default_prompt_batch(self.device)
        if prompt_batch < 1 or mask_batch < 1:
            raise ValueError(f"prompt_batch and mask_batch must be >= 1, got {prompt_batch} and {mask_batch}")
        total = len(text.prompts)
        scores, boxes, masks = bp._Rows(total), bp._Rows(total), bp._Rows(total)
        with bp.segmentation_in_chunks(self.model, mask_batch if mask_batch < prompt_batch else 0):
            for start in range(0, total, prompt_batch):
                stop = min(start + prompt_batch, total)
                for rows, value in zip((scores, boxes, masks), self._batch(image, text, start, stop)):
                    rows.add(value)
        return bp.GroundingResult(scores=scores.tensor, boxes_cxcywh=boxes.tensor, mask_logits=masks.tensor)

    def fallbacks(self) -> dict[tuple[int, ...], str]:
        """Buckets that run eagerly, with why."""
        return {key: b.reason for key, b in self.buckets.items() if b.run is None}

    # -- per batch ---------------------------------------------------------------------------------------------
    def _backbone_out(self, image: bp.ImageFeatures, text: bp.TextFeatures, start: int, stop: int) -> dict[str, Any]:
        backbone_out = dict(image.state["backbone_out"])
        backbone_out.update(text.backbone_entries(start, stop))
        return backbone_out

    def _eager(self, image: bp.ImageFeatures, text: bp.TextFeatures, start: int, stop: int) -> tuple[torch.Tensor, ...]:
        n = stop - start
        return grounding_outputs(self.model, self._backbone_out(image, text, start, stop),
                                 bp._find_stage(n, self.device), self.model._get_dummy_prompt(num_prompts=n))

    def _batch(self, image: bp.ImageFeatures, text: bp.TextFeatures, start: int, stop: int) -> tuple[torch.Tensor, ...]:
        if self.mode == "off":
            return self._eager(image, text, start, stop)
        # the model's input size, not the picture's: every picture is resized before the encode, so one bucket
        # serves pictures of any size (their size matters only to the postprocessing, after the graph)
        key = (stop - start, *image.state["backbone_out"]["vision_features"].shape[-2:])
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = _Bucket(key)
            try:
                bucket.run = self._capture(bucket, image, text, start, stop)
            except Exception as err:  # noqa: BLE001 (any failure to capture: eager, with its reason)
                reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                if self.strict:
                    raise CaptureError(f"prompt batch of {key[0]} at feature size {key[1]}x{key[2]}: {self.mode} failed: "
                                       f"{reason}") from err
                bucket.reason = f"{type(err).__name__}: {reason}"
                self.log(f"npu-compat: prompt batch of {key[0]} at feature size {key[1]}x{key[2]} runs eagerly ({self.mode} "
                         f"failed: {bucket.reason})")
        if bucket.run is None:
            return self._eager(image, text, start, stop)
        bucket.replays += 1
        return bucket.run(image.state["backbone_out"], start, stop, text)

    def _capture(self, bucket: _Bucket, image: bp.ImageFeatures, text: bp.TextFeatures, start: int,
                 stop: int) -> Callable[..., tuple[torch.Tensor, ...]]:
        if self.mode == "compile":
            return self._compiled(image, text, start, stop)
        return self._graphed(image, text, start, stop)

    def _compiled(self, image: bp.ImageFeatures, text: bp.TextFeatures, start: int,
                  stop: int) -> Callable[..., tuple[torch.Tensor, ...]]:
        model, device, n = self.model, self.device, stop - start
        find_input, prompt = bp._find_stage(n, device), model._get_dummy_prompt(num_prompts=n)
        compiled = torch.compile(grounding_outputs, backend=self.backend, dynamic=False)

        def run(image_out: dict[str, Any], begin: int, end: int, feats: bp.TextFeatures) -> tuple[torch.Tensor, ...]:
            backbone_out = dict(image_out)
            backbone_out.update(feats.backbone_entries(begin, end))
            return tuple(t.clone() for t in compiled(model, backbone_out, find_input, prompt))

        run(image.state["backbone_out"], start, stop, text)  # compiles now: a failure falls back here, once
        return run

    def _graphed(self, image: bp.ImageFeatures, text: bp.TextFeatures, start: int,
                 stop: int) -> Callable[..., tuple[torch.Tensor, ...]]:
        model, device, n = self.model, self.device, stop - start
        module = getattr(torch, device.type)
        graph_class = getattr(module, "CUDAGraph", None) or module.NPUGraph
        static_image = _clone(image.state["backbone_out"])
        static_text = {key: value.clone() for key, value in text.backbone_entries(start, stop).items()}
        find_input, prompt = bp._find_stage(n, device), model._get_dummy_prompt(num_prompts=n)

        def region() -> tuple[torch.Tensor, ...]:
            backbone_out = dict(static_image)
            backbone_out.update(static_text)
            return grounding_outputs(model, backbone_out, find_input, prompt)

        side = module.Stream()  # warm-up off the capturing stream, as CUDA graphs require
        side.wait_stream(module.current_stream())
        with module.stream(side):
            for _ in range(self.warmup):
                region()
        module.current_stream().wait_stream(side)
        graph = graph_class()
        # thread_local: the postprocessor's feeder thread may copy an earlier image's masks meanwhile
        with module.graph(graph, capture_error_mode="thread_local"):
            static_out = region()
        image_tensors, static_image_tensors = None, _tensors(static_image)

        def run(image_out: dict[str, Any], begin: int, end: int, feats: bp.TextFeatures) -> tuple[torch.Tensor, ...]:
            nonlocal image_tensors
            given = _tensors(image_out)
            if image_tensors is None or len(given) != len(image_tensors) or any(
                    a is not b for a, b in zip(given, image_tensors)):  # a new image: its features in once
                for dst, src in zip(static_image_tensors, given, strict=True):
                    dst.copy_(src)
                image_tensors = given
            for key, value in feats.backbone_entries(begin, end).items():
                static_text[key].copy_(value)
            graph.replay()
            return tuple(t.clone() for t in static_out)  # the next replay overwrites static_out

        return run


__all__ = ["CapturedPrompts", "CaptureError", "MODES", "resolve_mode", "grounding_outputs"]
