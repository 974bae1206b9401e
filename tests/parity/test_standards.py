import torch

from npu_compat.parity.standards import OpClass, classify, golden_dtype, thresholds_for, ulp_of


def test_classes_follow_msprobe_families():
    assert classify("aten.sort.default") is OpClass.EXACT
    assert classify("aten.topk.default") is OpClass.EXACT
    assert classify("aten.nonzero.default") is OpClass.EXACT
    assert classify("aten.index.Tensor") is OpClass.EXACT
    assert classify("aten.masked_fill_.Scalar") is OpClass.EXACT
    assert classify("aten.bmm.default") is OpClass.ULP
    assert classify("aten.addmm.default") is OpClass.ULP
    assert classify("aten.convolution.default") is OpClass.CONV
    assert classify("aten.mul_.Tensor") is OpClass.ELEMENTWISE
    assert classify("aten.native_layer_norm.default") is OpClass.COSINE
    assert classify("aten._softmax.default") is OpClass.COSINE


def test_golden_is_one_step_wider():
    assert golden_dtype(torch.bfloat16) == torch.float32
    assert golden_dtype(torch.float16) == torch.float32
    assert golden_dtype(torch.float32) == torch.float64
    assert golden_dtype(torch.complex64) == torch.complex128
    assert golden_dtype(torch.int64) == torch.int64


def test_ulp_matches_nextafter():
    values = torch.tensor([1.0, 3.0, 1e-3, 1e20], dtype=torch.float64)
    for dtype in (torch.float32, torch.float16):
        narrow = values.to(dtype)
        step = (torch.nextafter(narrow, torch.full_like(narrow, float("inf"))) - narrow).double()
        finite = torch.isfinite(step)
        assert torch.allclose(ulp_of(narrow.double(), dtype)[finite], step[finite])


def test_thresholds_per_dtype():
    assert thresholds_for(torch.bfloat16).rtol == 4e-3
    assert thresholds_for(torch.float16).rtol == 1e-3
    assert thresholds_for(torch.float32).rtol == 1e-6
    assert thresholds_for(torch.float32).ulp_mean_max == 64
    assert thresholds_for(torch.bfloat16).ulp_share_gt1_max == 0.001
