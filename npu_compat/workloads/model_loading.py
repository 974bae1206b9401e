"""Build the SAM3 image model for a workload (full or tiny) on the shim's target, and its autocast."""
from __future__ import annotations

import contextlib
import io
import sys
from typing import Any, Callable

import torch

from npu_compat.sam3.random_init import RANDOM_WEIGHTS_NOTICE

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def build_model(kind: str, checkpoint: str | None, device: torch.device | None, seed: int = 0,
                allow_partial: bool = False) -> torch.nn.Module:
    """``kind`` 'sam3' or 'tiny'; without ``checkpoint`` the weights are random and a loud notice says so.

    A checkpoint is read (and refused if it is not one) before the model is built, and its keys are
    checked against the model (:mod:`npu_compat.workloads.checkpoints`). ``device`` None: left where
    the builder put it.
    """
    from npu_compat.workloads import checkpoints

    if kind not in ("sam3", "tiny"):
        raise ValueError(f"unknown model {kind!r}; use 'sam3' or 'tiny'")
    state = checkpoints.read_checkpoint(checkpoint) if checkpoint else None
    torch.manual_seed(seed)  # every rank builds the same random weights
    if kind == "tiny":
        from npu_compat.sam3.tiny import build_tiny_sam3_image_model

        model = build_tiny_sam3_image_model(seed=seed)
        if state is not None:
            checkpoints.load_checkpoint(model, checkpoint, allow_partial, state=state)
        else:  # the full model's builder says so through the shim's rule; the tiny one says it here
            sys.stderr.write(RANDOM_WEIGHTS_NOTICE)
    else:
        from sam3.model_builder import build_sam3_image_model

        with contextlib.redirect_stdout(io.StringIO()):  # upstream prints every missing key; checked below
            model = build_sam3_image_model(checkpoint_path=checkpoint, load_from_HF=False)
        if state is not None:
            checkpoints.check_keys(model, checkpoints.image_model_state(state, model), checkpoint, allow_partial)
    return (model if device is None else model.to(device)).eval()


def autocast_for(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    """Autocast on the target for bf16/fp16; nothing for fp32."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if DTYPES[dtype] is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A function that waits for the device (a no-op on cpu), for honest stage timings."""
    module: Any = getattr(torch, device.type, None)
    sync = getattr(module, "synchronize", None) if device.type != "cpu" else None
    return sync if callable(sync) else (lambda: None)
