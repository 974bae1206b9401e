"""The fused-attention row: which SDPA calls go to ``torch_npu.npu_fusion_attention``, and parity with SDPA
on the simulated npu (a test double of the Ascend stack, in a subprocess)."""
import pytest
import torch

from npu_compat.errors import RuleError
from npu_compat.rules import core_rules
from npu_compat.rules.fused_attention import FusionCall, fused_attention_rules, fusion_plan
from npu_compat.shim_options import ShimOptions
from npu_compat.target import Target
from tests.sim.conftest import run_sim


def test_the_silent_tnd_combination_is_refused_and_the_rule_emits_bsnd():
    with pytest.raises(RuleError, match="TND"):
        FusionCall(head_num=2, scale=1.0, atten_mask=None, input_layout="TND", sparse_mode=0)
    FusionCall(head_num=2, scale=1.0, atten_mask=torch.zeros(1, 1, 2, 2, dtype=torch.bool), input_layout="TND")
    assert FusionCall(head_num=2, scale=1.0, atten_mask=None).input_layout == "BSND"


def test_row_only_on_npu_and_only_when_asked():
    npu, cpu = Target("npu"), Target("cpu")
    on = ShimOptions(fused_attention=True)
    assert [r.key for r in fused_attention_rules(npu, on)] == ["attention.fused"]
    assert fused_attention_rules(npu, ShimOptions()) == [] and fused_attention_rules(npu, None) == []
    assert fused_attention_rules(cpu, on) == []
    assert "attention.fused" in [r.key for r in core_rules(npu, on)]
    assert "attention.fused" not in [r.key for r in core_rules(npu)]


def test_calls_off_the_npu_stay_sdpa():
    q = torch.randn(1, 2, 3, 4, dtype=torch.bfloat16)
    assert "not npu" in fusion_plan(q, q, q)


def test_fused_rule_matches_sdpa_on_the_simulated_npu_and_leaves_the_rest_alone():
    """Simulated npu (test double): bf16 SDPA through the shim's row vs fp32 SDPA on the host."""
    out = run_sim("""
        import torch.nn.functional as F
        import npu_compat
        from npu_compat.rules.fused_attention import fusion_plan
        from npu_compat.parity.standards import thresholds_for
        from npu_compat.shim_options import ShimOptions
        torch.manual_seed(0)
        B, N, S, T, D = 2, 4, 6, 9, 16
        q, k, v = torch.randn(B, N, S, D), torch.randn(B, N, T, D), torch.randn(B, N, T, D)
        masks = {"none": None, "b1st": torch.rand(B, 1, S, T) > 0.3, "st": torch.rand(S, T) > 0.3,
                 "bnst": torch.rand(B, N, S, T) > 0.3}
        for m in masks.values():
            if m is not None:
                m[..., 0] = True
        session = npu_compat.apply(options=ShimOptions(device="npu", fused_attention=True))
        th = thresholds_for(torch.bfloat16)
        dev = lambda t: None if t is None else t.to("npu")
        for name, m in masks.items():
            qb, kb, vb = (t.bfloat16() for t in (q, k, v))
            golden = F.scaled_dot_product_attention(qb.float(), kb.float(), vb.float(), attn_mask=m)
            plan = fusion_plan(dev(qb), dev(kb), dev(vb), dev(m))
            got = F.scaled_dot_product_attention(dev(qb), dev(kb), dev(vb), attn_mask=dev(m))
            dtype, got = str(got.dtype), got.cpu().float()
            cos = float(F.cosine_similarity(got.flatten(), golden.flatten(), dim=0))
            ratio = float((got - golden).abs().max() / golden.abs().max())
            out[name] = [type(plan).__name__, plan.input_layout, list(plan.atten_mask.shape) if plan.atten_mask is not None else None,
                         cos >= th.cosine_min and ratio <= th.max_err_ratio, dtype]
        kept = {}
        kept["fp32"] = fusion_plan(dev(q), dev(k), dev(v))
        kept["float_mask"] = fusion_plan(dev(q.bfloat16()), dev(k.bfloat16()), dev(v.bfloat16()), dev(torch.zeros(S, T)))
        kept["causal"] = fusion_plan(dev(q.bfloat16()), dev(k[:, :, :S].bfloat16()), dev(v[:, :, :S].bfloat16()), is_causal=True)
        out["kept"] = kept
        r = F.scaled_dot_product_attention(dev(q), dev(k), dev(v)).cpu()
        out["fp32_equal"] = bool(torch.allclose(r, F.scaled_dot_product_attention(q, k, v), atol=1e-6))
        out["fused_calls"] = sum(c["count"] for c in session.report.calls() if c["rule"] == "attention.fused")
        npu_compat.revert()
        out["reverted"] = F.scaled_dot_product_attention is torch._C._nn.scaled_dot_product_attention
    """)
    for name in ("none", "b1st", "st"):
        assert out[name][:2] == ["FusionCall", "BSND"] and out[name][3:] == [True, "torch.bfloat16"], (name, out[name])
    assert out["none"][2] is None and out["b1st"][2] == [2, 1, 6, 9] and out["st"][2] == [2, 1, 6, 9]
    assert out["bnst"][2] == [2, 4, 6, 9] and out["bnst"][3] is True
    assert "fp16, bf16" in out["kept"]["fp32"] and "boolean" in out["kept"]["float_mask"]
    assert "causal" in out["kept"]["causal"]
    assert out["fused_calls"] == 4  # the four bf16 calls, not the fp32 one
    assert out["fp32_equal"] and out["reverted"]
