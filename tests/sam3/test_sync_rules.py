"""Tests for npu_compat.sam3.sync_rules: the same grounding outputs with fewer host syncs."""
from __future__ import annotations

import pytest
import torch

from npu_compat.sam3.sync_rules import HostShapes


def test_host_shapes_give_ints_for_views_of_a_remembered_tensor_only():
    shapes = HostShapes()
    with torch.inference_mode():
        spatial = torch.tensor([[18, 24]])
        shapes.remember(spatial, [18, 24])
        assert shapes.lookup(spatial[0, 0]) == 18 and shapes.lookup(spatial[0, 1]) == 24
        assert shapes.lookup(torch.tensor(18)) is None
        assert shapes.lookup(7) is None


@pytest.fixture(scope="module")
def tiny_grounding():
    import npu_compat
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.tiny import build_tiny_sam3_image_model
    from npu_compat.bench.suite import sample_image

    npu_compat.apply(device="cpu", log_level="quiet")
    model = build_tiny_sam3_image_model(seed=0).eval()
    processor = bp.make_processor(model, "cpu")
    with torch.inference_mode():
        feats = bp.encode_image(processor, sample_image(True))
        text = bp.encode_prompts(model, ["cat", "dog", "car"], "cpu")
    yield model, feats, text
    npu_compat.revert()


def test_rules_remove_the_decoder_syncs_and_keep_outputs(tiny_grounding):
    from npu_compat.bench.counts import rules_off, sync_rule_keys
    from npu_compat.bench.op_counter import count
    from npu_compat.sam3 import batched_prompts as bp

    model, feats, text = tiny_grounding
    run = lambda: bp.ground_prompts(model, feats, text, "cpu", 3)  # noqa: E731
    with torch.inference_mode():
        after, out_after = count(run)
        with rules_off(sync_rule_keys()):
            before, out_before = count(run)
    layers = len(model.transformer.decoder.layers)
    assert before.syncs - after.syncs == 7 * layers  # 2 + 1 + 1 + 2 + 1 comparisons per layer
    assert after.syncs == 0
    assert torch.equal(out_after.scores, out_before.scores)
    assert torch.equal(out_after.mask_logits, out_before.mask_logits)
