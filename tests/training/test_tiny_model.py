"""Tests for npu_compat.training.tiny_model (built through the shim: sam3 hard-codes cuda at construction)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.training.trainer_runs import needs_train_extra

pytestmark = needs_train_extra


def test_training_setup_matches_upstreams_training_builder(shim_cpu) -> None:
    from sam3.train.matcher import BinaryHungarianMatcherV2

    from npu_compat.training.tiny_model import TRAIN_QUERIES, build_tiny_sam3_for_training

    model = build_tiny_sam3_for_training(resolution=504)
    assert model.training and isinstance(model.matcher, BinaryHungarianMatcherV2)
    assert model.transformer.encoder.use_act_checkpoint and model.transformer.decoder.use_act_checkpoint
    assert model.transformer.decoder.num_queries == TRAIN_QUERIES
    assert model.segmentation_head is not None
    boxes_only = build_tiny_sam3_for_training(resolution=504, enable_segmentation=False)
    assert boxes_only.segmentation_head is None
    frozen = {n for n, p in boxes_only.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("backbone.vision_backbone.convs.0.", "backbone.vision_backbone.convs.1."))
                          for n in frozen)


def test_checkpoint_in_and_bad_checkpoints(shim_cpu, tmp_path: Path) -> None:
    from npu_compat.training.tiny_model import build_tiny_sam3_for_training

    source = build_tiny_sam3_for_training(seed=3, resolution=504, enable_segmentation=False)
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": source.state_dict(), "steps": {"train": 1}}, path)
    loaded = build_tiny_sam3_for_training(seed=0, resolution=504, enable_segmentation=False, checkpoint_path=str(path))
    for name, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    with pytest.raises(ValueError, match="does not fit the tiny model"):
        build_tiny_sam3_for_training(resolution=504, checkpoint_path=str(path))  # has a mask head the file lacks
    with pytest.raises(ValueError, match="multiple of 18"):
        build_tiny_sam3_for_training(resolution=500)
