"""``peer-hf``: Hugging Face transformers' ``Sam3Model`` beside ours, same image, prompts, dtype and device.

Both models have random weights (HF's from its default ``Sam3Config``, or a tiny config for ``--quick``;
nothing is downloaded). The same preprocessed 1008 x 1008 pixels and the same CLIP token ids (sam3's own
tokenizer: both use the CLIP BPE vocabulary, 32 tokens) go to both. Each side is warmed up first (encode, one
prompt, and one ``prompt_batch``-wide forward: the widest buffers either side allocates), so neither pays
first-call costs in a timed run. Per round, alternating which goes first (ours in even rounds, HF in odd ones);
the medians over rounds are reported:

- ``encode``: ours ``backbone.forward_image`` / HF ``get_vision_features``;
- ``one prompt``: ours ``forward_text`` + ``forward_grounding`` / HF ``forward(vision_embeds, input_ids)``;
- ``N prompts``: ours ``encode_prompts`` + ``ground_prompts`` (``prompt_batch`` per forward) / HF the same
  batches through ``forward`` with the vision embeddings expanded to the batch.

Neither side upsamples masks or postprocesses here. Ratios are ours / HF (below 1: ours is faster).
"""
from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable, Sequence

import torch


def hf_available() -> str | None:
    """None when transformers with ``Sam3Model`` imports, else why not (for a clean skip)."""
    try:
        from transformers import Sam3Config, Sam3Model  # noqa: F401
    except ImportError as err:
        return f"transformers with Sam3Model is not installed ({err}); pip install '.[peer]'"
    return None


def tiny_hf_config() -> Any:
    """A small ``Sam3Config`` shaped like ``npu_compat.sam3.tiny`` (patch 56 at 1008 px: an 18 x 18 grid)."""
    from transformers import Sam3Config

    backbone = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                "patch_size": 56, "window_size": 6, "global_attn_indexes": [1], "pretrain_image_size": 336}
    vision = {"backbone_config": backbone, "fpn_hidden_size": 64,
              "backbone_feature_sizes": [[72, 72], [36, 36], [18, 18]]}
    text = {"vocab_size": 49408, "hidden_size": 32, "intermediate_size": 64, "projection_dim": 32,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 32, "hidden_act": "gelu"}
    small = {"hidden_size": 64, "num_layers": 1, "num_attention_heads": 2, "intermediate_size": 128}
    return Sam3Config(vision_config=vision, text_config=text, geometry_encoder_config=small,
                      detr_encoder_config=small, detr_decoder_config={**small, "num_layers": 2, "num_queries": 16},
                      mask_decoder_config={"hidden_size": 64, "num_attention_heads": 2})


def build_hf(tiny: bool, device: torch.device, dtype: torch.dtype | None) -> torch.nn.Module:
    from transformers import Sam3Config, Sam3Model

    torch.manual_seed(0)
    model = Sam3Model(tiny_hf_config() if tiny else Sam3Config()).eval().to(device)
    return model.to(dtype) if dtype is not None else model


def _tokens(model: torch.nn.Module, prompts: Sequence[str], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """sam3's CLIP tokenizer (context 32): ids and attention mask, as HF's processor would give them."""
    tokenizer = model.backbone.language_backbone.tokenizer
    ids = tokenizer(list(prompts), context_length=32).to(device)
    return ids, (ids != 0).long()


def _timed(fn: Callable[[], Any], sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def bench_peer(ours: torch.nn.Module, hf: torch.nn.Module, image: Any, prompts: Sequence[str], device: torch.device,
               dtype: str, rounds: int, prompt_batch: int) -> dict[str, Any]:
    from npu_compat.sam3 import batched_prompts as bp
    from npu_compat.workloads.model_loading import autocast_for, synchronizer

    sync = synchronizer(device)
    processor = bp.make_processor(ours, device)
    with torch.inference_mode(), autocast_for(device, dtype):
        state = processor.set_image(image)
        ids, mask = _tokens(ours, prompts, device)
        pixel_values = _pixels(processor, image, device)

        def ours_encode() -> Any:
            return ours.backbone.forward_image(pixel_values)

        def hf_encode() -> Any:
            return hf.get_vision_features(pixel_values=pixel_values)

        vision = hf_encode()

        def ours_prompts(count: int) -> Any:
            text = bp.encode_prompts(ours, list(prompts[:count]), device)
            return bp.ground_prompts(ours, bp.ImageFeatures(state, 1, 1), text, device, prompt_batch)

        def hf_prompts(count: int) -> Any:
            outs = []
            for start in range(0, count, prompt_batch):
                stop = min(start + prompt_batch, count)
                outs.append(hf(vision_embeds=_expand(vision, stop - start), input_ids=ids[start:stop],
                               attention_mask=mask[start:stop]).pred_logits)
            return outs

        cases = {"encode": (ours_encode, hf_encode),
                 "one_prompt": (lambda: ours_prompts(1), lambda: hf_prompts(1)),
                 f"{len(prompts)}_prompts": (lambda: ours_prompts(len(prompts)), lambda: hf_prompts(len(prompts)))}
        widest = min(prompt_batch, len(prompts))
        for ours_fn, hf_fn in (cases["encode"], cases["one_prompt"],
                               (lambda: ours_prompts(widest), lambda: hf_prompts(widest))):
            ours_fn(), hf_fn()
        times: dict[str, dict[str, list[float]]] = {name: {"ours": [], "hf": []} for name in cases}
        for r in range(rounds):
            for name, (ours_fn, hf_fn) in cases.items():
                order = (("ours", ours_fn), ("hf", hf_fn)) if r % 2 == 0 else (("hf", hf_fn), ("ours", ours_fn))
                for side, fn in order:
                    gc.collect()
                    times[name][side].append(_timed(fn, sync))
    out: dict[str, Any] = {"rounds": rounds, "prompts": len(prompts), "prompt_batch": prompt_batch, "dtype": dtype,
                           "median_s": {}, "ratio_ours_over_hf": {}, "all_s": times}
    for name, sides in times.items():
        med = {side: statistics.median(values) for side, values in sides.items()}
        out["median_s"][name] = med
        out["ratio_ours_over_hf"][name] = med["ours"] / med["hf"]
    enc, one = out["median_s"]["encode"], out["median_s"]["one_prompt"]
    out["ratio_ours_over_hf"]["encode_plus_one_prompt"] = (enc["ours"] + one["ours"]) / (enc["hf"] + one["hf"])
    return out


def _pixels(processor: Any, image: Any, device: torch.device) -> torch.Tensor:
    """The (1, 3, 1008, 1008) input upstream's processor builds in ``set_image``."""
    from torchvision.transforms import v2

    tensor = v2.functional.to_image(image).to(device)
    return processor.transform(tensor).unsqueeze(0)


def _expand(vision: Any, batch: int) -> Any:
    """HF vision embeddings for one image, broadcast (no copy) to ``batch`` prompts."""
    from dataclasses import replace

    fields = {k: tuple(t.expand(batch, *t.shape[1:]) for t in v) if isinstance(v, tuple) else
              (v.expand(batch, *v.shape[1:]) if isinstance(v, torch.Tensor) else v)
              for k, v in vision.items()}
    try:
        return type(vision)(**fields)
    except TypeError:
        return replace(vision, **fields)


__all__ = ["hf_available", "tiny_hf_config", "build_hf", "bench_peer"]
