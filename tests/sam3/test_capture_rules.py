"""Tests for npu_compat.sam3.capture_rules on the tiny SAM3, cpu target: the rows keep upstream's outputs.

(That they keep host copies out of a captured graph is shown on the simulated npu in test_captured_prompts.py.)"""
from __future__ import annotations

import pytest
import torch

from npu_compat.sam3.capture_rules import _flat_ints, box_scale


def test_box_scale_is_w_h_w_h_in_the_dtype_and_device_given():
    scale = box_scale(640, 480, torch.zeros(2, dtype=torch.float64))
    assert scale.shape == (1, 1, 4) and scale.dtype == torch.float64
    assert scale.flatten().tolist() == [640.0, 480.0, 640.0, 480.0]


def test_flat_ints_reads_nested_int_lists_only():
    assert _flat_ints([(18, 17), (9, 8)]) == ([2, 2], [18, 17, 9, 8])
    assert _flat_ints([1.5]) is None and _flat_ints([(1, 2), (3,)]) is None and _flat_ints([True]) is None


@pytest.fixture(scope="module")
def tiny():
    import npu_compat
    from PIL import Image
    from skimage import data

    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.tiny import build_tiny_sam3_image_model

    npu_compat.revert()
    session = npu_compat.apply(device="cpu", log_level="quiet")
    model = build_tiny_sam3_image_model(seed=0)
    processor = bp.make_processor(model, "cpu", confidence_threshold=0.0)
    feats = bp.encode_image(processor, Image.fromarray(data.astronaut()).resize((96, 96)))
    yield model, processor, feats, session
    npu_compat.revert()


def test_box_and_text_prompts_give_upstreams_outputs(tiny):
    from npu_compat.bench.counts import rules_off
    from npu_compat.sam3 import batched_prompts as bp

    model, processor, feats, session = tiny
    text = bp.encode_prompts(model, ["cat", "cup"], "cpu")

    def run():
        with torch.inference_mode():
            boxed = processor.add_geometric_prompt(box=[0.5, 0.5, 0.4, 0.4], label=True, state=dict(feats.state))
            return boxed["scores"].clone(), boxed["masks"].clone(), bp.ground_prompts(model, feats, text, "cpu", 2)

    ours = run()
    fired = {c["rule"] for c in session.report.calls()}
    assert "sam3.capture.box_scale" in fired  # the rows ran: the comparison below says something
    with rules_off(["sam3.capture.box_scale", "sam3.sync.feature_shapes"]):
        theirs = run()
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    assert torch.equal(ours[2].scores, theirs[2].scores) and torch.equal(ours[2].mask_logits, theirs[2].mask_logits)
