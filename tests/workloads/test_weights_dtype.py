"""bf16 weights (``--weights-dtype bf16``) on the tiny SAM3: which weights are cast, parity with fp32, refusals."""
import copy

import numpy as np
import pytest
import torch
from PIL import Image

from npu_compat.parity.e2e import E2E_THRESHOLDS
from npu_compat.sam3 import batched_prompts as bp
from npu_compat.workloads.inputs import InputError
from npu_compat.workloads.model_loading import build_model
from npu_compat.workloads.weights_dtype import cast_weights, check_weights_dtype, kept_fp32

CPU = torch.device("cpu")


def _run(model, autocast):
    image = Image.fromarray((np.random.RandomState(0).rand(64, 80, 3) * 255).astype("uint8"))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        processor = bp.make_processor(model, CPU, 0.5)
        text = bp.encode_prompts(model, ["cat", "dog", "person"], CPU)
        return bp.ground_prompts(model, bp.encode_image(processor, image), text, CPU, None)


def test_only_low_precision_layers_are_cast_and_the_rest_keeps_fp32(shim_cpu):
    model = build_model("tiny", None, CPU)
    counts = cast_weights(model, "bf16")
    assert 0 < counts["cast"] < counts["total"]
    kept = kept_fp32(model)
    dtypes = {}
    for name, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            dtypes[f"{name}.{pname}"] = (p.dtype, type(module).__name__, id(module) in kept)
    assert any(d == torch.bfloat16 and kind == "Linear" for d, kind, _ in dtypes.values())
    assert all(d == torch.float32 for d, kind, _ in dtypes.values() if kind == "LayerNorm")
    assert all(d == torch.float32 for d, _, k in dtypes.values() if k) and any(k for _, _, k in dtypes.values())
    assert all(b.is_complex() for n, b in model.named_buffers() if "freqs_cis" in n)
    assert cast_weights(model, "fp32")["cast"] == 0


def test_bf16_weights_equal_bf16_autocast_and_match_fp32_within_the_bf16_standard(shim_cpu):
    base = build_model("tiny", None, CPU)
    fp32 = _run(base, autocast=False)
    autocast = _run(base, autocast=True)
    model = copy.deepcopy(base)
    cast_weights(model, "bf16")
    weights = _run(model, autocast=True)
    # autocast casts fp32 weights to bf16 on every call: storing them in bf16 computes the same thing
    assert torch.equal(weights.mask_logits, autocast.mask_logits) and torch.equal(weights.scores, autocast.scores)
    limits = E2E_THRESHOLDS["bf16"]
    got, ref = weights.mask_logits.float().flatten(), fp32.mask_logits.float().flatten()
    assert float(torch.nn.functional.cosine_similarity(got, ref, dim=0)) >= limits.cosine_min
    assert float((got - ref).abs().max() / ref.abs().max()) <= limits.max_err_ratio
    assert float((weights.scores.float() - fp32.scores).abs().max()) <= limits.score_abs_max


def test_bf16_weights_without_bf16_compute_are_refused_before_a_build():
    check_weights_dtype("fp32", "fp32")
    check_weights_dtype("bf16", "bf16")
    with pytest.raises(InputError, match="--dtype bf16"):
        check_weights_dtype("bf16", "fp32")
    with pytest.raises(InputError, match="unknown weights dtype"):
        check_weights_dtype("fp8", "bf16")
