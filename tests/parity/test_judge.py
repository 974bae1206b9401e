import math

import torch

from npu_compat.parity.judge import judge_tensor, judge_value
from npu_compat.parity.standards import OpClass


def _bump(tensor, ulps):
    out = tensor.clone()
    for _ in range(ulps):
        out = torch.nextafter(out, torch.full_like(out, float("inf")))
    return out


def test_exact_counts_mismatches_and_treats_nan_as_equal():
    golden = torch.tensor([1.0, float("nan"), 3.0])
    assert judge_tensor(golden.clone(), golden, OpClass.EXACT).verdict == "pass"
    bad = judge_tensor(torch.tensor([1.0, float("nan"), 3.5]), golden, OpClass.EXACT)
    assert bad.verdict == "fail" and bad.metrics["mismatches"] == 1


def test_ulp_bf16_share_standard():
    golden = torch.linspace(1, 2, 4000, dtype=torch.float32)
    rounded = golden.to(torch.bfloat16)
    assert judge_tensor(rounded, golden, OpClass.ULP).verdict == "pass"
    off = _bump(rounded, 3)
    judgement = judge_tensor(off, golden, OpClass.ULP)
    assert judgement.verdict == "fail" and judgement.metrics["share_ulp_gt1"] > 0.5


def test_ulp_fp32_mean_standard():
    golden = torch.linspace(1, 2, 1000, dtype=torch.float64)
    assert judge_tensor(_bump(golden.float(), 10), golden, OpClass.ULP).verdict == "pass"
    assert judge_tensor(_bump(golden.float(), 100), golden, OpClass.ULP).verdict == "fail"


def test_conv_allows_one_in_a_thousand():
    golden = torch.ones(10000, dtype=torch.float64)
    device = golden.float().clone()
    device[:5] = 1.01
    assert judge_tensor(device, golden, OpClass.CONV).verdict == "pass"
    device[:20] = 1.01
    assert judge_tensor(device, golden, OpClass.CONV).verdict == "fail"


def test_elementwise_uses_atol_for_small_values():
    golden = torch.tensor([1.0, 1e-8], dtype=torch.float64)
    ok = torch.tensor([1.0 + 5e-7, 1e-8 + 5e-10], dtype=torch.float32)
    assert judge_tensor(ok, golden, OpClass.ELEMENTWISE).verdict == "pass"
    bad = torch.tensor([1.0 + 5e-6, 1e-8], dtype=torch.float32)
    assert judge_tensor(bad, golden, OpClass.ELEMENTWISE).verdict == "fail"


def test_cosine_class_catches_scaled_output():
    golden = torch.randn(100, dtype=torch.float64)
    assert judge_tensor(golden.float(), golden, OpClass.COSINE).verdict == "pass"
    assert judge_tensor((golden * 1.001).float(), golden, OpClass.COSINE).verdict == "fail"


def test_inf_nan_positions_must_agree_and_shapes_must_match():
    golden = torch.tensor([1.0, float("inf")], dtype=torch.float64)
    assert judge_tensor(torch.tensor([1.0, float("inf")]), golden, OpClass.COSINE).verdict == "pass"
    assert judge_tensor(torch.tensor([1.0, 5.0]), golden, OpClass.COSINE).verdict == "fail"
    shape = judge_tensor(torch.zeros(3), torch.zeros(2, dtype=torch.float64), OpClass.COSINE)
    assert shape.verdict == "fail" and math.isinf(shape.score)


def test_python_scalars():
    assert judge_value(3, 3, OpClass.EXACT).verdict == "pass"
    assert judge_value(True, False, OpClass.EXACT).verdict == "fail"
    assert judge_value(None, None, OpClass.EXACT).verdict == "pass"
