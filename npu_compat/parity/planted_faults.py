"""Deliberately wrong kernels, to prove that the parity harness catches a wrong device result.

Here the "device" and the golden are both the CPU, so a fault must hit only the device side.
Each fault is registered with ``torch.library`` for the CPU dispatch key and is wrong only for
one dtype, the device's (say fp32); for every other dtype, including the golden's wider one
(fp64), the same Python kernel computes the correct result from other aten ops. That models a
device whose kernel is wrong for one dtype, which is how real kernel bugs usually look.

The registration is scoped: ``with planted_fault("layer_norm_eps", torch.float32):`` and the
original aten kernel is back when the block ends (the Library object is destroyed).
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from npu_compat.parity import ParityError

EPS_ERROR = 1e-2


def _layer_norm(faulty_dtype: torch.dtype) -> Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    def kernel(x, normalized_shape, weight, bias, eps):
        eps = eps + EPS_ERROR if x.dtype == faulty_dtype else eps
        dims = tuple(range(x.dim() - len(normalized_shape), x.dim()))
        wide = x.to(torch.float64) if x.dtype == torch.float64 else x.to(torch.float32)
        mean = wide.mean(dim=dims, keepdim=True)
        rstd = torch.rsqrt(wide.var(dim=dims, unbiased=False, keepdim=True) + eps)
        out = (wide - mean) * rstd
        if weight is not None:
            out = out * weight
        if bias is not None:
            out = out + bias
        return out.to(x.dtype), mean.to(wide.dtype), rstd.to(wide.dtype)
    return kernel


def _softmax(faulty_dtype: torch.dtype) -> Callable[..., torch.Tensor]:
    def kernel(x, dim, half_to_float):
        dim = dim % max(x.dim(), 1)
        if x.dtype == faulty_dtype and x.dim() > 1:
            dim = (dim - 1) % x.dim()  # normalise along the wrong dim
        wide = x.to(torch.float64) if x.dtype == torch.float64 else x.to(torch.float32)
        shifted = wide - wide.amax(dim=dim, keepdim=True)
        exp = shifted.exp()
        out = exp / exp.sum(dim=dim, keepdim=True)
        return out.to(torch.float32 if half_to_float else x.dtype)
    return kernel


@dataclass(frozen=True)
class PlantedFault:
    name: str
    aten_op: str           # the overload name registered in the aten namespace
    replay_op: str         # how it appears in an inventory
    make_kernel: Callable[[torch.dtype], Callable[..., object]]
    description: str


FAULTS: dict[str, PlantedFault] = {
    "layer_norm_eps": PlantedFault("layer_norm_eps", "native_layer_norm", "aten.native_layer_norm.default",
                                   _layer_norm, f"layer_norm with eps off by {EPS_ERROR:g}"),
    "softmax_wrong_dim": PlantedFault("softmax_wrong_dim", "_softmax", "aten._softmax.default",
                                      _softmax, "softmax normalised along the previous dim"),
}


@contextlib.contextmanager
def planted_fault(name: str, faulty_dtype: torch.dtype) -> Iterator[PlantedFault]:
    """Register fault ``name`` for the CPU key, wrong only for ``faulty_dtype``, for this block."""
    if name not in FAULTS:
        raise ParityError(f"unknown planted fault {name!r}; choose one of {sorted(FAULTS)}")
    fault = FAULTS[name]
    library = torch.library.Library("aten", "IMPL")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Overriding a previously registered kernel.*")
            library.impl(fault.aten_op, fault.make_kernel(faulty_dtype), "CPU")
        yield fault
    finally:
        library._destroy()
