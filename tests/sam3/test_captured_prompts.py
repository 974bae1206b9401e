"""Tests for npu_compat.sam3.captured_prompts on the tiny SAM3.

On the simulated npu (a test double of torch_npu's NPUGraph: capture records the device ops, replay re-runs them
on the static buffers' current values, and host syncs/copies inside capture are refused): the captured prompt path
replays and matches eager for prompt batches and images other than the ones it was captured with; a planted host
sync is refused with its file:line and the bucket falls back to eager with a one-line reason (or raises when
``strict``). On the cpu target: the compiled path matches eager."""
from __future__ import annotations

from textwrap import dedent

import pytest
import torch

from npu_compat.parity.standards import thresholds_for
from npu_compat.sam3.captured_prompts import resolve_mode
from tests.sim.conftest import run_sim

PROMPTS = ["person", "cup", "cat", "rocket", "a red car", "tree"]

SETUP = dedent("""
    import npu_compat
    npu_compat.apply(device="npu", log_level="quiet")
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.captured_prompts import CapturedPrompts, CaptureError
    from npu_compat.sam3.tiny import build_tiny_sam3_image_model
    from PIL import Image
    from skimage import data
    dev = torch.device("npu:0")
    model = build_tiny_sam3_image_model(seed=0, device=dev)
    processor = bp.make_processor(model, dev)
    images = [bp.encode_image(processor, Image.fromarray(getattr(data, name)()).resize(size))
              for name, size in (("astronaut", (96, 96)), ("coffee", (120, 80)))]
    text = bp.encode_prompts(model, %r, dev)

    def diffs(a, b):
        # per output: (cosine, max abs error / max |eager|), the parity standards' model-output measures
        pairs = zip((a.scores, a.boxes_cxcywh, a.mask_logits), (b.scores, b.boxes_cxcywh, b.mask_logits))
        return [(torch.nn.functional.cosine_similarity(x.cpu().double().flatten(), y.cpu().double().flatten(),
                                                       dim=0).item(),
                 ((x.cpu().double() - y.cpu().double()).abs().max() / x.cpu().double().abs().max()).item())
                for x, y in pairs]
""") % (PROMPTS,)


def _within(diffs: list[list[float]]) -> bool:
    """Eager vs captured, each output within the fp32 standard (cosine class: the model's outputs)."""
    standard = thresholds_for(torch.float32)
    return all(cos >= standard.cosine_min and ratio <= standard.max_err_ratio for cos, ratio in diffs)


def test_the_graph_replays_new_prompts_and_images_and_matches_eager(sim):
    assert sim["mode"] == "graph" and sim["lines"] == []
    assert len(sim["diffs"]) == 2 and all(_within(d) for d in sim["diffs"]), sim["diffs"]
    assert sim["replayed_differs_from_capture"]  # replays computed new values, not the capture's
    (replays,) = sim["buckets"].values()  # one bucket: 2 pictures of 2 sizes x 3 batches of 2, one capture
    assert replays == 6


def test_counts_one_replay_per_batch_few_ops_outside_and_the_sync_budget(sim):
    eager, captured = sim["counts"]
    assert "eager" in eager["name"] and "captured (graph)" in captured["name"] and not captured["fallbacks"]
    assert eager["replays_per_batch"] == 0 and captured["replays_per_batch"] == 1
    assert captured["ops_outside_graph_per_prompt"] <= 10 < eager["ops_outside_graph_per_prompt"]
    # syncs are per image (scores and kept masks to the host), so at 80 prompts: per image / 80 <= 0.025
    per_image = captured["syncs_per_prompt"] * len(PROMPTS)
    assert 0 < per_image / 80 <= 0.025 and captured["syncs_per_prompt"] == eager["syncs_per_prompt"]


def test_int_tensors_are_filled_on_the_device_inside_a_capture(sim):
    assert sim["ints"] == [[[18, 17], [9, 8]], "torch.int64"]


def test_no_host_fallback_is_captured_in_the_graph(sim):
    """torch_npu has no _assert_async kernel: the simulated graph records its host fallback (hardware could not
    capture it); with the padded_asserts row the captured region holds none."""
    assert "aten::_assert_async" not in sim["graph_ops"]["rules"]
    assert "aten::_assert_async" in sim["graph_ops"]["no padded_asserts row"]  # the row is what removes it


PLANT = dedent("""
    import npu_compat.sam3.captured_prompts as cp
    head = model.segmentation_head
    real_forward = head.forward

    def planted(*args, **kwargs):
        out = real_forward(*args, **kwargs)
        kwargs["obj_queries"].sum().item()  # PLANTED host sync
        return out

    head.forward = planted
    out["planted_line"] = planted.__code__.co_firstlineno + 2
""")


GRAPH = dedent("""
    lines = []
    captured = CapturedPrompts(model, dev, "graph", log=lines.append)
    out["diffs"] = []
    for feats in images:  # the second image replays the graph captured on the first
        eager = bp.ground_prompts(model, feats, text, dev, prompt_batch=2)
        graphed = captured.ground_prompts(feats, text, prompt_batch=2)
        out["diffs"].append(diffs(eager, graphed))
        out["replayed_differs_from_capture"] = (graphed.scores[2:4].cpu() != graphed.scores[:2].cpu()).any().item()
    out["buckets"] = {str(k): b.replays for k, b in captured.buckets.items()}
    out["lines"] = lines
    out["mode"] = captured.mode
    from npu_compat.bench.capture import count_capture
    out["counts"] = count_capture(model, dev, images[0], text, 3, "graph")
    from npu_compat.sam3.capture_rules import IntsFilledOnDevice
    g = torch.npu.NPUGraph()
    with torch.npu.graph(g), IntsFilledOnDevice():  # a host-to-device copy would be refused here
        shapes = torch.tensor([(18, 17), (9, 8)], dtype=torch.long, device=dev)
    out["ints"] = [shapes.cpu().tolist(), str(shapes.dtype)]
    from npu_compat.bench.counts import rules_off
    from npu_compat.sam3.captured_prompts import grounding_outputs
    out["graph_ops"] = {}
    for name, scope in (("rules", None), ("no padded_asserts row", ["sam3.capture.padded_asserts"])):
        with rules_off(scope or []), torch.inference_mode():
            backbone_out = dict(images[0].state["backbone_out"], **text.backbone_entries(0, 2))
            find, prompt = bp._find_stage(2, dev), model._get_dummy_prompt(num_prompts=2)
            g = torch.npu.NPUGraph()
            with torch.npu.graph(g):
                grounding_outputs(model, backbone_out, find, prompt)
            out["graph_ops"][name] = sorted(set(g.replayed_ops()))
""")


@pytest.fixture(scope="module")
def sim() -> dict:
    """One simulated-npu process: the graph path, then with a host sync planted in the segmentation head."""
    return run_sim(SETUP + GRAPH + PLANT + dedent("""
        lines = []
        captured = CapturedPrompts(model, dev, "graph", log=lines.append)
        eager = bp.ground_prompts(model, images[0], text, dev, prompt_batch=3)
        fell_back = captured.ground_prompts(images[0], text, prompt_batch=3)
        out["planted"] = {"diffs": diffs(eager, fell_back), "lines": lines,
                          "fallbacks": [str(v) for v in captured.fallbacks().values()]}
        strict = CapturedPrompts(model, dev, "graph", strict=True)
        try:
            strict.ground_prompts(images[0], text, prompt_batch=3)
            out["planted"]["strict"] = "no error"
        except CaptureError as err:
            out["planted"]["strict"] = str(err)
    """))


def test_a_planted_host_sync_is_refused_with_its_line_and_the_bucket_runs_eagerly(sim):
    lines = sim["planted"]["lines"]
    assert len(lines) == 1 and "\n" not in lines[0], lines  # one line, once for the bucket (2 batches of 3)
    site = f"<string>:{sim['planted_line']}"
    assert "GraphCaptureError" in lines[0] and "_local_scalar_dense" in lines[0] and site in lines[0], (site, lines)
    assert "runs eagerly" in lines[0] and "prompt batch of 3" in lines[0]
    assert _within(sim["planted"]["diffs"])


def test_with_strict_the_planted_sync_raises(sim):
    assert "_local_scalar_dense" in sim["planted"]["strict"] and "graph failed" in sim["planted"]["strict"]


def test_modes_resolve_per_device():
    assert resolve_mode("auto", "npu:0") == resolve_mode("auto", "cuda") == "graph"
    assert resolve_mode("auto", "cpu") == "compile" and resolve_mode("off", "cpu") == "off"
    with pytest.raises(ValueError, match="needs a cuda or npu device"):
        resolve_mode("graph", "cpu")
    with pytest.raises(ValueError, match="must be one of"):
        resolve_mode("fast", "cpu")


@pytest.fixture(scope="module")
def cpu_tiny():
    import npu_compat
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.tiny import build_tiny_sam3_image_model
    from PIL import Image
    from skimage import data

    npu_compat.revert()
    npu_compat.apply(device="cpu", log_level="quiet")
    model = build_tiny_sam3_image_model(seed=0)
    processor = bp.make_processor(model, "cpu")
    feats = bp.encode_image(processor, Image.fromarray(data.astronaut()).resize((96, 96)))
    yield model, feats, bp.encode_prompts(model, PROMPTS[:4], "cpu")
    npu_compat.revert()


def _compiled_against_eager(cpu_tiny, backend: str):
    """The compiled path and upstream's eager forward on the same prompts: the ``CapturedPrompts`` object and,
    for scores, boxes and mask logits, (cosine, max error / max magnitude) against eager."""
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.sam3.captured_prompts import CapturedPrompts

    model, feats, text = cpu_tiny
    eager = bp.ground_prompts(model, feats, text, "cpu", prompt_batch=2)
    captured = CapturedPrompts(model, "cpu", "auto", strict=True, backend=backend)
    got = captured.ground_prompts(feats, text, prompt_batch=2)
    gaps = []
    for a, b in zip((eager.scores, eager.boxes_cxcywh, eager.mask_logits),
                    (got.scores, got.boxes_cxcywh, got.mask_logits)):
        cos = torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(), dim=0)
        gaps.append((float(cos), float((a - b).abs().max() / a.abs().max())))
    return captured, gaps


FP32 = thresholds_for(torch.float32)


def test_the_compiled_path_matches_eager_on_the_cpu_dynamo_only(cpu_tiny):
    captured, gaps = _compiled_against_eager(cpu_tiny, "eager")  # dynamo's trace, no codegen: about 20 s
    assert captured.mode == "compile" and not captured.fallbacks()
    assert all(cos >= FP32.cosine_min and ratio <= FP32.max_err_ratio for cos, ratio in gaps), gaps


@pytest.mark.slow
def test_the_compiled_path_matches_eager_on_the_cpu_inductor(cpu_tiny):
    captured, gaps = _compiled_against_eager(cpu_tiny, "inductor")  # 140 s and more of compile on 2 cores
    assert captured.mode == "compile" and not captured.fallbacks()
    assert all(cos >= FP32.cosine_min and ratio <= FP32.max_err_ratio for cos, ratio in gaps), gaps
