"""Host syncs that upstream sam3 makes in the prompt hot path, removed by rule rows.

- ``sam3.sync.feature_shapes`` + ``sam3.sync.rpb_sizes``: the fusion encoder packs the feature map sizes
  (Python ints it has) into a device tensor ``spatial_shapes``; every decoder layer then reads them back
  as 0-dim tensors ``(spatial_shapes[0, 0], spatial_shapes[0, 1])`` for its box relative position bias,
  whose cache check and shape asserts (``compilable_stored_size == (H, W)``, ``shape == (bs, nq, W)``)
  turn them into Python bools: 7 host syncs per decoder layer, 42 per grounding forward for the full model's
  6 layers (with the 3 boolean-mask indexings of ``Sam3Processor`` and the masks to the host, the 48 host
  syncs per upstream prompt measured on an H100). The
  first row remembers the sizes the encoder had as ints, keyed by the tensor's storage; the second hands
  the decoder those ints instead of the 0-dim tensors. Same values, so same outputs; a tensor the first
  row did not see passes through unchanged. The first row also has ``spatial_shapes`` filled on the device
  instead of copied from the host (``capture_rules.IntsFilledOnDevice``): a copy a captured graph cannot hold.
  While ``torch.compile`` traces, storages cannot be read: the first row keeps the sizes it saw last and the
  second hands the decoder the first level's (the encoder and decoder of one traced forward), and nothing is
  reported from inside the trace.
"""
from __future__ import annotations

import functools
import weakref
from typing import Any

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.sam3.capture_rules import IntsFilledOnDevice

MOD = Category.MODIFIED
ENCODER = "sam3.model.encoder.TransformerEncoder"
DECODER = "sam3.model.decoder.TransformerDecoder"


def _storage_key(tensor: torch.Tensor) -> int | None:
    """The address of the tensor's storage; None for tensors that have no host-visible storage
    (a Python backend's wrapper tensors, such as the simulated npu's), which are then left alone."""
    try:
        return tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None


class HostShapes:
    """Python-int copies of small integer device tensors the model built from ints, looked up by storage."""

    def __init__(self) -> None:
        self._by_storage: dict[int, tuple[weakref.ref, list[int]]] = {}
        self.latest: list[int] | None = None  # the last sizes seen while torch.compile traces (no storages there)

    def remember(self, tensor: torch.Tensor, values: list[int]) -> None:
        """``values``: the tensor's elements in memory order, as host ints (the tensor is held weakly)."""
        self._by_storage = {k: v for k, v in self._by_storage.items() if v[0]() is not None}
        key = _storage_key(tensor)
        if key is not None:
            self._by_storage[key] = (weakref.ref(tensor), values)

    def lookup(self, element: Any) -> int | None:
        """The int behind a 0-dim view of a remembered tensor, or None."""
        if not isinstance(element, torch.Tensor) or element.dim() != 0:
            return None
        key = _storage_key(element)
        entry = self._by_storage.get(key) if key is not None else None
        if entry is None:
            return None
        base = entry[0]()
        if base is None or not base.is_contiguous():
            return None
        index = element.storage_offset() - base.storage_offset()
        values = entry[1]
        return values[index] if 0 <= index < len(values) else None


def _feature_shapes(shapes: HostShapes, ctx: Context, rule: Rule, original: Any) -> Any:

    @functools.wraps(original)
    def _prepare_multilevel_features(self: Any, srcs: Any, masks: Any, pos_embeds: Any) -> Any:
        if torch.compiler.is_compiling():  # traced: the sizes are constants of the graph, no copy, no storage
            shapes.latest = [int(v) for src in srcs for v in src.shape[-2:]]
            return original(self, srcs, masks, pos_embeds)
        with IntsFilledOnDevice():  # spatial_shapes: filled on the device, not copied from the host
            out = original(self, srcs, masks, pos_embeds)
        spatial_shapes = out[-1]
        if isinstance(spatial_shapes, torch.Tensor):
            shapes.remember(spatial_shapes, [int(v) for src in srcs for v in src.shape[-2:]])
        return out

    return _prepare_multilevel_features


def _rpb_sizes(shapes: HostShapes, ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def _get_rpb_matrix(self: Any, reference_boxes: Any, feat_size: Any) -> Any:
        height, width = feat_size
        if torch.compiler.is_compiling():  # the decoder's level-0 size, from the encoder of the same traced forward
            if shapes.latest is not None and isinstance(height, torch.Tensor):
                feat_size = (shapes.latest[0], shapes.latest[1])
            return original(self, reference_boxes, feat_size)
        h, w = shapes.lookup(height), shapes.lookup(width)
        if h is not None and w is not None:
            hit(key, cat, "0-dim device tensors", "host ints")
            feat_size = (h, w)
        return original(self, reference_boxes, feat_size)

    return _get_rpb_matrix


def sync_rules() -> list[Rule]:
    """The rows, sharing one ``HostShapes`` per shim session."""
    shapes = HostShapes()
    return [
        Rule("sam3.sync.feature_shapes", ENCODER, "_prepare_multilevel_features",
             functools.partial(_feature_shapes, shapes), MOD,
             "remember the feature map sizes as host ints next to the spatial_shapes tensor built from them",
             lazy=True),
        Rule("sam3.sync.rpb_sizes", DECODER, "_get_rpb_matrix", functools.partial(_rpb_sizes, shapes), MOD,
             "the box relative position bias gets the feature map size as host ints: no host sync per layer",
             lazy=True),
    ]


__all__ = ["sync_rules", "HostShapes"]
