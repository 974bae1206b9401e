"""Autocast on the simulated npu (a TEST DOUBLE of the Ascend stack).

torch_npu registers autocast kernels for the npu in C++. Here they are ``torch.library`` kernels
on the AutocastPrivateUse1 key, as torch's own autocast is built: inside ``torch.autocast("npu")``
the lower-precision ops take their floating npu inputs in the autocast dtype, the fp32 ops in
fp32, and the promote ops in the widest floating dtype among their inputs; then the op runs
below the autocast key. Every other op passes through. The op lists are CUDA's autocast lists
(torch_npu follows them), cut to what SAM3 calls.
"""
from __future__ import annotations

from typing import Any

import torch

LOWER = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "linear",
                   "einsum", "convolution", "_convolution", "mm", "addmm", "bmm", "baddbmm", "addbmm", "addmv", "mv", "addr",
                   "matmul", "prelu", "scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
                   "_native_multi_head_attention"})
FP32 = frozenset({"acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal",
                  "rsqrt", "sinh", "tan", "pow", "softplus", "layer_norm", "group_norm", "native_layer_norm", "native_group_norm", "softmax", "log_softmax", "_softmax",
                  "_log_softmax", "cumprod", "cumsum", "dist", "cdist", "renorm", "logsumexp", "norm",
                  "linalg_vector_norm", "binary_cross_entropy_with_logits", "nll_loss_forward", "mse_loss",
                  "smooth_l1_loss", "upsample_nearest1d", "upsample_nearest2d", "upsample_bilinear2d"})
PROMOTE = frozenset({"addcdiv", "addcmul", "atan2", "cross", "dot", "grid_sampler_2d", "grid_sampler_3d",
                     "index_put", "index_put_", "scatter_add", "tensordot", "cat", "stack", "where"})
FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _cast(value: Any, dtype: torch.dtype) -> Any:
    """Cast floating npu tensors (host tensors stay as they are, as autocast leaves them)."""
    if (isinstance(value, torch.Tensor) and value.device.type == "npu" and value.is_floating_point()
            and value.dtype != dtype):
        return value.to(dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, dtype) for v in value)
    return value


def _floats(values: Any) -> list[torch.dtype]:
    found = []
    for value in values:
        items = value if isinstance(value, (list, tuple)) else [value]
        found += [v.dtype for v in items if isinstance(v, torch.Tensor) and v.device.type == "npu"
                  and v.is_floating_point()]
    return found


_KEYSET = torch._C.DispatchKeySet(torch._C.DispatchKey.AutocastPrivateUse1)


def _kernel(op: Any, policy: str) -> Any:
    def kernel(*args: Any, **kwargs: Any) -> Any:
        with torch._C._ExcludeDispatchKeyGuard(_KEYSET):
            if policy == "lower":
                dtype = torch.get_autocast_dtype("npu")
            elif policy == "fp32":
                dtype = torch.float32
            else:
                found = _floats((*args, *kwargs.values()))
                if len(set(found)) < 2:
                    return op(*args, **kwargs)
                dtype = max(found, key=FLOATS.index)
            return op(*_cast(args, dtype), **{k: _cast(v, dtype) for k, v in kwargs.items()})

    return kernel


def register_autocast(library: Any) -> int:
    """Autocast kernels for every overload of the listed ops; the rest fall through."""
    count = 0
    for policy, names in (("lower", LOWER), ("fp32", FP32), ("promote", PROMOTE)):
        for name in sorted(names):
            packet = getattr(torch.ops.aten, name, None)
            if packet is None:
                continue
            for overload in packet.overloads():
                op = getattr(packet, overload)
                if op._schema.is_mutable:
                    continue
                library.impl(name if overload == "default" else f"{name}.{overload}", _kernel(op, policy),
                             "AutocastPrivateUse1")
                count += 1
    return count


__all__ = ["register_autocast", "LOWER", "FP32", "PROMOTE"]
