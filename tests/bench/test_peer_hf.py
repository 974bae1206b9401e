"""Tests for npu_compat.bench.peer_hf (transformers' Sam3Model beside ours); skipped without the peer extra."""
from __future__ import annotations

import builtins

import pytest
import torch

from npu_compat.bench.peer_hf import hf_available


def test_missing_transformers_is_a_reason_not_an_error(monkeypatch):
    real_import = builtins.__import__

    def no_transformers(name, *args, **kwargs):
        if name.startswith("transformers"):
            raise ImportError("No module named 'transformers'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    assert "pip install '.[peer]'" in hf_available()


@pytest.mark.skipif(hf_available() is not None, reason="transformers with Sam3Model is not installed (extra 'peer')")
def test_tiny_peer_runs_both_models_on_the_same_inputs():
    import npu_compat
    from npu_compat.bench.peer_hf import bench_peer, build_hf
    from npu_compat.bench.suite import sample_image
    from npu_compat.workloads.model_loading import build_model

    npu_compat.apply(device="cpu", log_level="quiet")
    try:
        ours = build_model("tiny", None, torch.device("cpu"))
        hf = build_hf(True, torch.device("cpu"), None)
        out = bench_peer(ours, hf, sample_image(True), ["cat", "dog", "car"], torch.device("cpu"), "fp32", 1, 2)
    finally:
        npu_compat.revert()
    assert set(out["ratio_ours_over_hf"]) == {"encode", "one_prompt", "3_prompts", "encode_plus_one_prompt"}
    assert all(r > 0 for r in out["ratio_ours_over_hf"].values())


@pytest.mark.skipif(hf_available() is not None, reason="transformers with Sam3Model is not installed (extra 'peer')")
def test_peer_warms_each_side_once_and_alternates_rounds():
    import npu_compat
    from npu_compat.bench.peer_hf import bench_peer, build_hf
    from npu_compat.bench.suite import sample_image
    from npu_compat.workloads.model_loading import build_model

    npu_compat.apply(device="cpu", log_level="quiet")
    calls: list[str] = []
    try:
        ours = build_model("tiny", None, torch.device("cpu"))
        hf = build_hf(True, torch.device("cpu"), None)
        real_hf, real_ours = hf.get_vision_features, ours.backbone.forward_image
        hf.get_vision_features = lambda **kw: calls.append("hf") or real_hf(**kw)
        ours.backbone.forward_image = lambda *a, **kw: calls.append("ours") or real_ours(*a, **kw)
        out = bench_peer(ours, hf, sample_image(True), ["cat", "dog", "car"], torch.device("cpu"), "fp32", 2, 2)
    finally:
        npu_compat.revert()
    # set_image and HF's embeddings, one warm-up each, then round 0 ours first and round 1 HF first
    assert calls == ["ours", "hf", "ours", "hf", "ours", "hf", "hf", "ours"]
    assert all(len(sides["ours"]) == len(sides["hf"]) == 2 for sides in out["all_s"].values())
