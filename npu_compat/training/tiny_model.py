"""The tiny SAM3 (``npu_compat.sam3.tiny``) set up for sam3's trainer.

``build_sam3_image_model(eval_mode=False)`` gives the model upstream's training matcher, turns
activation checkpointing on and leaves it in train mode. This does the same for the tiny model,
with more queries than the tiny inference model (the sample set has up to 24 objects per photo).
Hydra instantiates it from the training config, as upstream's configs instantiate
``build_sam3_image_model``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

TRAIN_QUERIES = 32


def _config(num_queries: int, resolution: int) -> Any:
    from dataclasses import replace

    from npu_compat.sam3.tiny import TinyConfig

    if resolution % 18:
        raise ValueError(f"resolution {resolution} is not a multiple of 18 (the tiny ViT's token grid)")
    return replace(TinyConfig(), num_queries=num_queries, resolution=resolution, patch_size=resolution // 18)


def build_tiny_sam3_for_training(
    seed: int = 0,
    device: Any = None,
    eval_mode: bool = False,
    enable_segmentation: bool = True,
    bpe_path: str | None = None,
    checkpoint_path: str | None = None,
    num_queries: int = TRAIN_QUERIES,
    resolution: int = 1008,
    **_ignored: Any,
) -> nn.Module:
    """A tiny ``Sam3Image`` with upstream's training matcher, optionally loaded from ``checkpoint_path``.

    ``checkpoint_path`` takes a trainer checkpoint (its ``"model"`` entry) or a bare state dict,
    loaded with ``weights_only=True``. ``device="cuda"`` moves it there the way upstream's
    builder does (the shim sends it to the target); other values leave it on the CPU for the
    trainer to move. Extra upstream builder arguments (``enable_segmentation``, ...) are accepted
    and ignored, so a config can switch between this and ``build_sam3_image_model``.
    ``enable_segmentation=False`` drops the mask head, as upstream's builder does. ``resolution``
    (a multiple of 18) keeps the tiny ViT's 18x18 token grid: the patch is ``resolution // 18``.
    """
    from sam3.train.matcher import BinaryHungarianMatcherV2

    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    model = build_tiny_sam3_image_model(seed=seed, bpe_path=bpe_path, config=_config(num_queries, resolution))
    # the same matcher build_sam3_image_model(eval_mode=False) gives the full model
    model.matcher = BinaryHungarianMatcherV2(focal=True, cost_class=2.0, cost_bbox=5.0, cost_giou=2.0, alpha=0.25,
                                             gamma=2, stable=False)
    if not enable_segmentation:
        # as build_sam3_image_model(enable_segmentation=False): no mask head. The neck's 4x and 2x
        # levels then feed nothing the loss sees; frozen, so DDP expects no gradient for them.
        model.segmentation_head = None
        for level in model.backbone.vision_backbone.convs[:2]:
            level.requires_grad_(False)
    # activation checkpointing where build_sam3_image_model turns it on (the encoder and decoder
    # assert it in train mode)
    model.transformer.encoder.use_act_checkpoint = True
    model.transformer.decoder.use_act_checkpoint = True
    model.geometry_encoder.use_act_ckpt = True
    if model.segmentation_head is not None:
        model.segmentation_head.act_ckpt = True
    if checkpoint_path:
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        state = state.get("model", state)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"checkpoint {checkpoint_path} does not fit the tiny model: "
                             f"{len(missing)} missing, {len(unexpected)} unexpected keys")
    model.train(not eval_mode)
    if device == "cuda":
        model = model.cuda()
    return model


__all__ = ["build_tiny_sam3_for_training", "TRAIN_QUERIES"]
