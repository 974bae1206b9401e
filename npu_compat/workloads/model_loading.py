"""Build the SAM3 image model for a workload (full or tiny) on the shim's target, and its autocast."""
from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def build_model(kind: str, checkpoint: str | None, device: torch.device, seed: int = 0) -> torch.nn.Module:
    """``kind`` 'sam3' (random weights with the shim's loud notice when ``checkpoint`` is None) or 'tiny'."""
    torch.manual_seed(seed)  # every rank builds the same random weights
    if kind == "tiny":
        from npu_compat.sam3.tiny import build_tiny_sam3_image_model

        model = build_tiny_sam3_image_model(seed=seed)
        if checkpoint:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
    elif kind == "sam3":
        from sam3.model_builder import build_sam3_image_model

        model = build_sam3_image_model(checkpoint_path=checkpoint, load_from_HF=False)
    else:
        raise ValueError(f"unknown model {kind!r}; use 'sam3' or 'tiny'")
    return model.to(device).eval()


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
