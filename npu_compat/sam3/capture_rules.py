"""What keeps sam3's grounding forward out of a captured graph, removed by rule rows (outputs unchanged).

- ``sam3.sync.feature_shapes`` (in ``sync_rules``) runs the fusion encoder's ``_prepare_multilevel_features``
  under :class:`IntsFilledOnDevice`: its ``spatial_shapes = torch.tensor([(h, w), ...], device=...)`` (Python
  ints, copied from the host at every forward) is filled on the device instead, same values.
- ``sam3.capture.box_scale``: ``SequenceGeometryEncoder._encode_boxes`` builds its ``[W, H, W, H]`` box scale on
  the host at every call (``torch.tensor(...).pin_memory().to(device, non_blocking=True)``): a host-to-device
  copy, which a CUDA or NPU graph cannot capture and dynamo cannot trace. The row's version fills the scale on the
  device (two scalar fills, the same values); with no boxes at all (text prompts: the dummy geometric prompt)
  it skips the pooling of zero boxes, whose result is empty (``roi_align`` has no npu kernel: its host fallback
  is a copy each way). Otherwise it is upstream's method line for line.
- ``sam3.capture.padded_asserts`` (npu target): while an NPU graph captures, ``concat_padded_sequences`` runs
  without its two ``torch._assert_async`` right-padding checks. torch_npu lists no ``_assert_async`` kernel, and
  its CPU fallback reads the device, which no graph can hold. The bucket's warm-up runs the same shapes eagerly
  first, asserts included.
"""
from __future__ import annotations

import functools
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from npu_compat.patcher import Category, Context, Rule
from npu_compat.target import Target

GEOMETRY = "sam3.model.geometry_encoders.SequenceGeometryEncoder"


def box_scale(width: int, height: int, like: torch.Tensor) -> torch.Tensor:
    """``[W, H, W, H]`` as a (1, 1, 4) tensor of ``like``'s dtype on ``like``'s device, filled there (no copy)."""
    scale = like.new_empty((1, 1, 4))
    scale[..., 0::2] = width
    scale[..., 1::2] = height
    return scale


def _flat_ints(data: Any) -> tuple[list[int], list[int]] | None:
    """(shape, values in row-major order) of a nested list/tuple of Python ints; None for anything else."""
    if isinstance(data, int) and not isinstance(data, bool):
        return [], [data]
    if not isinstance(data, (list, tuple)) or not data:
        return None
    parts = [_flat_ints(item) for item in data]
    if any(p is None or p[0] != parts[0][0] for p in parts):  # type: ignore[index]
        return None
    return [len(parts), *parts[0][0]], [v for p in parts for v in p[1]]  # type: ignore[index]


class IntsFilledOnDevice(TorchFunctionMode):
    """While active, ``torch.tensor(<nested Python ints>, device=<not cpu>)`` is an empty device tensor filled
    element by element (scalar fills: device ops a graph captures) instead of a host tensor copied over."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        device = kwargs.get("device")
        # by name: under the shim, ``torch.tensor`` is the device-mapping wrapper and ``func`` what it wraps
        if getattr(func, "__name__", None) == "tensor" and len(args) == 1 and device is not None \
                and torch.device(device).type != "cpu" and set(kwargs) <= {"device", "dtype"}:
            flat = _flat_ints(args[0])
            if flat is not None:
                out = torch.empty(flat[0], dtype=kwargs.get("dtype") or torch.long, device=device)
                view = out.view(-1)
                for index, value in enumerate(flat[1]):
                    view[index] = value
                return out
        return func(*args, **kwargs)


def _encode_boxes(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    upstream = original.__globals__  # the names upstream's method looks up, looked up the same way at each call

    @functools.wraps(original)
    def encode_boxes(self: Any, boxes: Any, boxes_mask: Any, boxes_labels: Any, img_feats: Any) -> Any:
        boxes_embed = None
        n_boxes, bs = boxes.shape[:2]
        if self.boxes_direct_project is not None:
            boxes_embed = self.boxes_direct_project(boxes)
        if self.boxes_pool_project is not None:
            if n_boxes == 0:  # text-only prompts: nothing to pool (and roi_align, a host fallback on npu, not run)
                if not torch.compiler.is_compiling():  # the report reads frames: not traceable
                    hit(key, cat, "roi_align of no boxes", "an empty projection")
                proj = img_feats.new_empty((0, bs, self.d_model),
                                           dtype=img_feats.dtype if boxes_embed is None else boxes_embed.dtype)
            else:
                height, width = img_feats.shape[-2:]
                boxes_xyxy = upstream["box_cxcywh_to_xyxy"](boxes)
                if not torch.compiler.is_compiling():
                    hit(key, cat, "host box scale, pinned and copied", "box scale filled on the device")
                boxes_xyxy = boxes_xyxy * box_scale(width, height, boxes_xyxy)
                rois = boxes_xyxy.float().transpose(0, 1).unbind(0)
                sampled = upstream["torchvision"].ops.roi_align(img_feats, rois, self.roi_size)
                assert list(sampled.shape) == [bs * n_boxes, self.d_model, self.roi_size, self.roi_size]
                proj = self.boxes_pool_project(sampled).view(bs, n_boxes, self.d_model).transpose(0, 1)
            boxes_embed = proj if boxes_embed is None else boxes_embed + proj
        if self.boxes_pos_enc_project is not None:
            cx, cy, w, h = boxes.unbind(-1)
            enc = self.pos_enc.encode_boxes(cx.flatten(), cy.flatten(), w.flatten(), h.flatten())
            enc = enc.view(boxes.shape[0], boxes.shape[1], enc.shape[-1])
            proj = self.boxes_pos_enc_project(enc)
            boxes_embed = proj if boxes_embed is None else boxes_embed + proj
        type_embed = self.label_embed(boxes_labels.long())
        return type_embed + boxes_embed, boxes_mask

    return encode_boxes


class NoAsyncAsserts(TorchFunctionMode):
    """While active, ``torch._assert_async`` does nothing (the check itself is still computed, not read)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if getattr(func, "__name__", None) == "_assert_async":
            return None
        return func(*args, **(kwargs or {}))


def _padded_concat(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    module = getattr(torch, ctx.target.type, None)

    @functools.wraps(original)
    def concat_padded_sequences(seq1: Any, mask1: Any, seq2: Any, mask2: Any, return_index: bool = False) -> Any:
        if module is not None and module.is_current_stream_capturing():
            hit(key, cat, "torch._assert_async (host fallback) while capturing", "not asserted in the graph")
            with NoAsyncAsserts():
                return original(seq1, mask1, seq2, mask2, return_index)
        return original(seq1, mask1, seq2, mask2, return_index)

    return concat_padded_sequences


def capture_rules(target: Target) -> list[Rule]:
    rules = [
        Rule("sam3.capture.box_scale", GEOMETRY, "_encode_boxes", _encode_boxes, Category.MODIFIED,
             "the box scale is filled on the device instead of pinned on the host and copied at every call "
             "(a copy a CUDA/NPU graph cannot capture, a call dynamo cannot trace)", lazy=True),
    ]
    if target.type == "npu":
        rules.append(Rule(
            "sam3.capture.padded_asserts", "sam3.model.geometry_encoders", "concat_padded_sequences", _padded_concat,
            Category.MODIFIED, "while an NPU graph captures, the right-padding asserts are not run: torch_npu has no "
            "_assert_async kernel and its CPU fallback reads the device (the bucket's eager warm-up asserts them)",
            lazy=True))
    return rules


__all__ = ["capture_rules", "box_scale", "IntsFilledOnDevice", "NoAsyncAsserts"]
