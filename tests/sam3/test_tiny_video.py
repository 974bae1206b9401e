"""The tiny video model is upstream's video classes at small widths, seeded and deterministic."""
from __future__ import annotations

import torch

from npu_compat.sam3.tiny_video import TinyVideoConfig, build_tiny_sam3_video_model, tiny_video_predictor_class


def test_upstream_classes_small_and_seeded(shim_cpu):
    """Built under the shim: upstream constructors create tensors with device='cuda'."""
    from sam3.model.sam3_image import Sam3ImageOnVideoMultiGPU
    from sam3.model.sam3_tracking_predictor import Sam3TrackerPredictor
    from sam3.model.sam3_video_inference import Sam3VideoInferenceWithInstanceInteractivity
    from sam3.model.sam3_video_predictor import Sam3VideoPredictor

    a, b = build_tiny_sam3_video_model(seed=3), build_tiny_sam3_video_model(seed=3)
    c = build_tiny_sam3_video_model(seed=4)
    assert not torch.is_autocast_enabled("cpu"), "the shim exits the tracker's process-wide autocast"
    assert type(a) is Sam3VideoInferenceWithInstanceInteractivity and not a.training
    assert type(a.detector) is Sam3ImageOnVideoMultiGPU and type(a.tracker) is Sam3TrackerPredictor
    assert a.detector.backbone.vision_backbone.sam2_convs is not None, "the SAM2 neck the tracker reads"
    assert a.image_size == TinyVideoConfig().image.resolution
    assert a.tracker.sam_image_embedding_size == 18
    count = sum(p.numel() for p in a.parameters())
    assert count < 20_000_000, count
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())
    assert all(torch.isfinite(v).all() for v in sa.values() if v.is_floating_point())
    assert issubclass(tiny_video_predictor_class(), Sam3VideoPredictor)
