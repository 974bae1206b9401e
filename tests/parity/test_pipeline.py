"""run_pipeline's dtype cast keeps complex buffers complex (SAM3's RoPE frequencies)."""
from __future__ import annotations

import warnings

import torch

from npu_compat.parity.pipeline import cast_real_tensors


class WithRope(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 2)
        self.register_buffer("freqs_cis", torch.polar(torch.ones(4), torch.arange(4.0)))
        self.register_buffer("index", torch.arange(3))


def test_complex_buffers_stay_complex_and_real_ones_are_cast():
    module = WithRope()
    phase = module.freqs_cis.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when a cast drops imaginary parts
        cast_real_tensors(module, torch.float64)
    assert module.linear.weight.dtype == torch.float64
    assert module.freqs_cis.dtype == torch.complex128 and torch.allclose(module.freqs_cis, phase.to(torch.complex128))
    assert module.index.dtype == torch.int64


def test_module_to_would_drop_the_imaginary_part():
    """Why the helper exists: Module.to(dtype=float32) turns complex buffers real."""
    module = WithRope()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        module.to(dtype=torch.float32)
    assert not module.freqs_cis.is_complex()
