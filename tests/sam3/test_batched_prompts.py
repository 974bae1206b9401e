"""Tests for npu_compat.sam3.batched_prompts on the tiny SAM3 (real sam3 classes, CPU target).

Batched grounding (N prompts per forward, text encoded once) against the seed's loop
(upstream ``set_text_prompt`` per prompt + per-mask host postprocessing). A batched forward and
a one-prompt forward differ by float rounding (~2e-6 in the mask logits), so a mask pixel may
flip only where the resized logit is that close to 0; everything else must be identical.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from pycocotools import mask as mask_util
from skimage import data

from npu_compat.sam3 import batched_prompts as bp
from npu_compat.sam3.postprocess import DevicePostprocessor, seed_style_records, select_detections

PROMPTS = ["person", "cup", "cat", "rocket", "a red car"]


@pytest.fixture(scope="module")
def tiny(request):
    import npu_compat

    npu_compat.revert()
    session = npu_compat.apply(device="cpu")
    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    model = build_tiny_sam3_image_model(seed=0)
    yield model, session.target.device()
    npu_compat.revert()


def test_batched_equals_sequential_seed_loop(tiny):
    model, device = tiny
    processor = bp.make_processor(model, device, confidence_threshold=0.0)
    cat_ids = [1, 47, 17, 90, 3]
    for name in ("coffee", "chelsea"):
        image = Image.fromarray(getattr(data, name)())
        feats = bp.encode_image(processor, image)
        text = bp.encode_prompts(model, PROMPTS, device)
        result = bp.ground_prompts(model, feats, text, device, prompt_batch=2)
        with DevicePostprocessor(chunk_size=8) as post:
            batched = post.submit(5, cat_ids, select_detections(result.scores, result.mask_logits, 0.0, 0.01),
                                  feats.height, feats.width).result()
        sequential, logits = [], []
        for p, (prompt, cat) in enumerate(zip(PROMPTS, cat_ids)):
            one = bp.ground_prompt_sequentially(processor, feats, prompt)
            sequential += seed_style_records(5, cat, one.masks, one.scores, 0.01)
            kept = result.mask_logits[p][(result.scores[p] > 0.0) & (result.scores[p] >= 0.01)]
            logits += list(F.interpolate(kept[:, None], (feats.height, feats.width), mode="bilinear")[:, 0])
        assert len(batched) == len(sequential) == len(logits) > 0
        identical = 0
        for b, s, logit in zip(batched, sequential, logits):
            assert b["category_id"] == s["category_id"]
            assert abs(b["score"] - s["score"]) < 1e-5
            if b["segmentation"] == s["segmentation"]:
                identical += 1
                assert b["bbox"] == s["bbox"]
                continue
            differ = torch.from_numpy(mask_util.decode(b["segmentation"]) != mask_util.decode(s["segmentation"]))
            assert logit[differ].abs().max() < 1e-4, "masks differ beyond float rounding at the threshold"
            assert np.abs(np.subtract(b["bbox"], s["bbox"])).max() <= 1
        assert identical >= 0.8 * len(batched), f"only {identical}/{len(batched)} RLEs identical"


def test_chunking_does_not_change_results_and_text_is_encoded_once(tiny, monkeypatch):
    model, device = tiny
    processor = bp.make_processor(model, device)
    feats = bp.encode_image(processor, Image.fromarray(data.astronaut()))
    text = bp.encode_prompts(model, PROMPTS, device, chunk_size=2)
    calls = []
    real = model.backbone.forward_text
    monkeypatch.setattr(model.backbone, "forward_text", lambda *a, **k: calls.append(1) or real(*a, **k))
    whole = bp.ground_prompts(model, feats, text, device, prompt_batch=len(PROMPTS))
    for batch in (1, 3):
        part = bp.ground_prompts(model, feats, text, device, prompt_batch=batch)
        assert part.scores.shape == whole.scores.shape == (len(PROMPTS), 16)
        torch.testing.assert_close(part.scores, whole.scores, atol=1e-5, rtol=0)
        torch.testing.assert_close(part.boxes_cxcywh, whole.boxes_cxcywh, atol=1e-5, rtol=0)
        torch.testing.assert_close(part.mask_logits, whole.mask_logits, atol=1e-4, rtol=0)
    assert calls == []
    with pytest.raises(ValueError, match="prompt_batch"):
        bp.ground_prompts(model, feats, text, device, prompt_batch=0)


def test_segmentation_head_in_chunks_changes_masks_only_by_rounding(tiny):
    model, device = tiny
    processor = bp.make_processor(model, device)
    feats = bp.encode_image(processor, Image.fromarray(data.astronaut()))
    text = bp.encode_prompts(model, PROMPTS, device)
    whole = bp.ground_prompts(model, feats, text, device, prompt_batch=len(PROMPTS), mask_batch=len(PROMPTS))
    head = model.segmentation_head
    widths = []
    real = head.forward
    head.forward = lambda **kw: widths.append(kw["encoder_hidden_states"].shape[1]) or real(**kw)
    try:
        for mask_batch in (1, 2, 3):
            widths.clear()
            part = bp.ground_prompts(model, feats, text, device, prompt_batch=len(PROMPTS), mask_batch=mask_batch)
            assert widths == [min(mask_batch, len(PROMPTS) - s) for s in range(0, len(PROMPTS), mask_batch)]
            assert torch.equal(part.scores, whole.scores) and torch.equal(part.boxes_cxcywh, whole.boxes_cxcywh)
            assert part.mask_logits.shape == whole.mask_logits.shape
            torch.testing.assert_close(part.mask_logits, whole.mask_logits, atol=1e-5, rtol=0)
    finally:
        del head.forward
    assert head.forward.__func__ is type(head).forward  # the chunking is gone after the call


def test_segmentation_in_chunks_restores_the_head(tiny):
    model, _ = tiny
    head = model.segmentation_head
    assert "forward" not in head.__dict__
    with bp.segmentation_in_chunks(model, 2):
        assert "forward" in head.__dict__
        with bp.segmentation_in_chunks(model, 3):
            pass
        assert "forward" in head.__dict__
    assert "forward" not in head.__dict__
    with pytest.raises(ValueError, match="mask_batch"):
        bp.ground_prompts(model, None, bp.TextFeatures(["a"], torch.zeros(1), torch.zeros(1), torch.zeros(1)),
                          "cpu", mask_batch=0)


def test_the_default_prompt_batch_is_one_per_forward_on_the_cpu_and_wide_on_an_accelerator(tiny, monkeypatch):
    model, device = tiny
    assert bp.default_prompt_batch("cpu") == bp.CPU_PROMPT_BATCH == 1
    assert bp.default_prompt_batch("npu:0") == bp.default_prompt_batch("cuda") == bp.PROMPT_BATCH
    feats = bp.encode_image(bp.make_processor(model, device), Image.fromarray(data.coffee()))
    text = bp.encode_prompts(model, PROMPTS, device)
    widths = []
    real = model.forward_grounding
    monkeypatch.setattr(model, "forward_grounding",
                        lambda **kw: widths.append(len(kw["find_input"].text_ids)) or real(**kw))
    bp.ground_prompts(model, feats, text, device)
    assert widths == [1] * len(PROMPTS)
