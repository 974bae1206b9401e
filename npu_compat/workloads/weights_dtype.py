"""Low-precision weights for the image paths (``--weights-dtype bf16``): half the weight memory and no per-call
weight casts under autocast.

The weights of the layers that autocast runs in low precision anyway (linear, convolution, multi-head
attention projections) are stored in the chosen dtype. Everything else keeps fp32, so computation is what
autocast already does:

- normalisation layers, embeddings and other parameters (autocast computes norms in fp32);
- complex buffers (the ViT's rotary table: casting it to a real dtype would drop its imaginary part);
- the layers upstream runs with autocast off on purpose (:data:`KEPT_FP32`), whose fp32 inputs need fp32
  weights.

Low-precision weights need a low-precision autocast around the model (``--dtype bf16``); the command
line refuses ``--weights-dtype bf16`` with ``--dtype fp32``.
"""
from __future__ import annotations

from typing import Any

import torch

from npu_compat.workloads.inputs import InputError

WEIGHT_DTYPES = {"fp32": None, "bf16": torch.bfloat16}
LOW_PRECISION_LAYERS = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d,
                        torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.MultiheadAttention)
# (module class, its children that upstream runs with autocast off): those children keep fp32 weights.
KEPT_FP32 = (
    ("sam3.model.decoder.TransformerDecoderLayer", ("linear1", "linear2")),  # forward_ffn: autocast off
)


def check_weights_dtype(weights: str, compute: str) -> None:
    """Refuse, before any model is built, weights the run's compute dtype cannot take."""
    if weights not in WEIGHT_DTYPES:
        raise InputError(f"unknown weights dtype {weights!r}", f"use one of {', '.join(WEIGHT_DTYPES)}")
    if WEIGHT_DTYPES[weights] is not None and compute != weights:
        raise InputError(f"--weights-dtype {weights} needs --dtype {weights} (the autocast that computes with them), "
                         f"got --dtype {compute}", f"add --dtype {weights}")


def _class_path(module: torch.nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def kept_fp32(model: torch.nn.Module) -> set[int]:
    """ids of the modules whose weights stay fp32 (``KEPT_FP32``)."""
    kept: set[int] = set()
    rows = dict(KEPT_FP32)
    for module in model.modules():
        for child in rows.get(_class_path(module), ()):
            sub = getattr(module, child, None)
            if isinstance(sub, torch.nn.Module):
                kept.update(id(m) for m in sub.modules())
    return kept


def cast_weights(model: torch.nn.Module, name: str) -> dict[str, Any]:
    """Store the low-precision layers' floating weights in dtype ``name`` ('fp32' leaves the model alone);
    returns how many parameters were cast and how many stay fp32."""
    if name not in WEIGHT_DTYPES:
        raise ValueError(f"unknown weights dtype {name!r}; use one of {', '.join(WEIGHT_DTYPES)}")
    dtype = WEIGHT_DTYPES[name]
    total = sum(p.numel() for p in model.parameters())
    if dtype is None:
        return {"dtype": name, "cast": 0, "total": total}
    kept, cast = kept_fp32(model), 0
    for module in model.modules():
        if not isinstance(module, LOW_PRECISION_LAYERS) or id(module) in kept:
            continue
        for param in module.parameters(recurse=False):
            if param.is_floating_point():
                param.data = param.data.to(dtype)
                cast += param.numel()
    return {"dtype": name, "cast": cast, "total": total}


__all__ = ["check_weights_dtype", "WEIGHT_DTYPES", "LOW_PRECISION_LAYERS", "KEPT_FP32", "kept_fp32", "cast_weights"]
