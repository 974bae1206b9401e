"""Accuracy standards by op class, with thresholds per dtype, modelled on Ascend msprobe.

| class        | ops                                   | passes when                                          |
| ------------ | ------------------------------------- | ---------------------------------------------------- |
| bit-exact    | sort, topk, nonzero, gather, indexing, | every element equal (NaN == NaN); indices of          |
|              | compare, data movement, relu, pad ... | sort/topk/max may differ only between tied values     |
| ulp          | mm, bmm, addmm, baddbmm, matmul ...   | fp32: mean ULP error < 64; fp16/bf16: share of        |
|              |                                       | elements with ULP error > 1 below 0.001               |
| conv         | convolution                           | >= 99.9% of elements within rtol (fp16 0.1%)          |
| elementwise  | add, mul, div, exp, sqrt, sigmoid ... | every element within rtol, or within atol where the   |
|              |                                       | golden is a small value                               |
| cosine       | everything else                       | cosine >= min and max error / max|golden| <= limit   |

The golden is the same op on CPU in higher precision (bf16/fp16 -> fp32, fp32 -> fp64); the
bit-exact class runs its golden in the device dtype, since it does no rounding arithmetic.
Thresholds are per dtype of the device result; docs/parity.md explains each number.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch

from npu_compat.parity.inventory import op_base


class OpClass(str, Enum):
    EXACT = "bit-exact"
    ULP = "ulp"
    CONV = "conv"
    ELEMENTWISE = "elementwise"
    COSINE = "cosine"


EXACT_OPS = frozenset("""
view _unsafe_view _reshape_alias reshape expand expand_as permute transpose t slice select squeeze
unsqueeze unbind split split_with_sizes chunk narrow as_strided alias detach lift_fresh
lift_fresh_copy clone contiguous copy _copy_from _to_copy to cat stack flatten unflatten flip roll
repeat view_as_real view_as_complex index index_select gather scatter index_put masked_fill
masked_select masked_scatter where nonzero sort topk argmax argmin max min amax amin maximum
minimum clamp clamp_min clamp_max relu abs neg sign floor ceil round trunc eq ne gt ge lt le
logical_and logical_or logical_not logical_xor bitwise_and bitwise_or bitwise_not bitwise_xor
isnan isinf isfinite any all constant_pad_nd pad tril triu zeros zeros_like ones ones_like full
full_like fill zero new_zeros new_ones new_full new_empty scalar_tensor _local_scalar_dense
embedding repeat_interleave unique _unique2 unique_consecutive unique_dim bucketize searchsorted
diagonal movedim tensor_split unfold upsample_nearest1d upsample_nearest2d upsample_nearest3d
_upsample_nearest_exact2d max_pool2d max_pool2d_with_indices adaptive_max_pool2d
split_with_sizes_copy slice_copy select_copy unbind_copy view_copy permute_copy expand_copy
""".split())
ULP_OPS = frozenset("mm bmm addmm baddbmm matmul addmv mv dot vdot addbmm linear _addmm_activation".split())
CONV_OPS = frozenset("""convolution _convolution convolution_overrideable conv1d conv2d conv3d
conv_transpose1d conv_transpose2d conv_transpose3d mkldnn_convolution _slow_conv2d_forward
cudnn_convolution""".split())
ELEMENTWISE_OPS = frozenset("""add sub rsub mul div true_divide exp exp2 expm1 log log2 log10 log1p
sqrt rsqrt reciprocal sigmoid tanh sin cos tan atan atan2 asin acos sinh cosh pow square silu erf
hypot""".split())
# Selection ops whose index outputs may legitimately differ between tied values.
TIE_TOLERANT_INDEX_OPS = frozenset("sort topk max min argmax argmin kthvalue median mode".split())


def normalized_base(op: str) -> str:
    """Op base name with an in-place trailing underscore removed: ``add_`` -> ``add``."""
    base = op_base(op)
    return base[:-1] if base.endswith("_") and not base.endswith("__") else base


def classify(op: str) -> OpClass:
    base = normalized_base(op)
    if base in EXACT_OPS:
        return OpClass.EXACT
    if base in ULP_OPS:
        return OpClass.ULP
    if base in CONV_OPS:
        return OpClass.CONV
    if base in ELEMENTWISE_OPS:
        return OpClass.ELEMENTWISE
    return OpClass.COSINE


GOLDEN_DTYPE = {
    torch.float16: torch.float32,
    torch.bfloat16: torch.float32,
    torch.float32: torch.float64,
    torch.complex32: torch.complex64,
    torch.complex64: torch.complex128,
}


def golden_dtype(dtype: torch.dtype) -> torch.dtype:
    """The higher precision a golden runs in (fp64 and non-float dtypes stay as they are)."""
    return GOLDEN_DTYPE.get(dtype, dtype)


@dataclass(frozen=True)
class Thresholds:
    ulp_mean_max: float = 64.0         # ULP class, fp32/fp64: mean ULP error must be below
    ulp_share_gt1_max: float = 0.001   # ULP class, fp16/bf16: share of elements with ULP err > 1
    conv_rtol: float = 1e-3            # conv class: relative error bound per element
    conv_share_max: float = 0.001      # conv class: share of elements allowed beyond conv_rtol
    rtol: float = 1e-6                 # elementwise class: relative error bound
    small_value: float = 1e-6          # elementwise/conv: |golden| below this is a small value
    small_atol: float = 1e-9           # ... judged by absolute error instead
    cosine_min: float = 0.99999        # cosine class
    max_err_ratio: float = 1e-4        # cosine class: max abs error / max |golden|


THRESHOLDS: dict[torch.dtype, Thresholds] = {
    torch.float64: Thresholds(conv_rtol=1e-9, rtol=1e-12, small_value=1e-12, small_atol=1e-15,
                              cosine_min=0.9999999, max_err_ratio=1e-10),
    torch.float32: Thresholds(conv_rtol=1e-3, max_err_ratio=1e-4),
    torch.float16: Thresholds(conv_rtol=1e-3, rtol=1e-3, small_value=1e-3, small_atol=1e-5,
                              cosine_min=0.999, max_err_ratio=2e-3),
    torch.bfloat16: Thresholds(conv_rtol=4e-3, rtol=4e-3, small_value=1e-3, small_atol=1e-5,
                               cosine_min=0.999, max_err_ratio=8e-3),
}
THRESHOLDS[torch.complex64] = THRESHOLDS[torch.float32]
THRESHOLDS[torch.complex128] = THRESHOLDS[torch.float64]
THRESHOLDS[torch.complex32] = THRESHOLDS[torch.float16]
MANTISSA_BITS = {torch.float64: 52, torch.float32: 23, torch.float16: 10, torch.bfloat16: 7,
                 torch.complex128: 52, torch.complex64: 23, torch.complex32: 10}
MIN_EXPONENT = {torch.float64: -1022, torch.float32: -126, torch.float16: -14, torch.bfloat16: -126,
                torch.complex128: -1022, torch.complex64: -126, torch.complex32: -14}


def thresholds_for(dtype: torch.dtype) -> Thresholds:
    return THRESHOLDS.get(dtype, THRESHOLDS[torch.float32])


def ulp_of(golden: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Size of one unit in the last place of ``dtype`` at each golden value (fp64 tensor)."""
    magnitude = golden.abs().double()
    _, exponent = torch.frexp(magnitude)           # magnitude = m * 2**exponent, m in [0.5, 1)
    exponent = torch.clamp(exponent - 1, min=MIN_EXPONENT[dtype])
    return torch.pow(2.0, (exponent - MANTISSA_BITS[dtype]).double())
