"""Autocast and gradient scaling with device "cuda" -> the target."""
from __future__ import annotations

from npu_compat.patcher import Rule
from npu_compat.rules.wrappers import device_type_arg, record_only
from npu_compat.target import Target


def amp_rules(target: Target) -> list[Rule]:
    if target.type == "cuda":
        return []
    return [
        Rule("amp.autocast", "torch.amp.autocast_mode.autocast", "__init__", device_type_arg(1)),
        Rule("amp.cuda.autocast", "torch.cuda.amp.autocast", "__init__", record_only("torch.cuda.amp.autocast")),
        Rule("amp.GradScaler", "torch.amp.grad_scaler.GradScaler", "__init__", device_type_arg(1, "device")),
        Rule("amp.cuda.GradScaler", "torch.cuda.amp.GradScaler", "__init__", record_only("torch.cuda.amp.GradScaler")),
        Rule("amp.custom_fwd", "torch.amp", "custom_fwd", device_type_arg(99)),
        Rule("amp.custom_bwd", "torch.amp", "custom_bwd", device_type_arg(99)),
        Rule("amp.is_autocast_enabled", "torch", "is_autocast_enabled", device_type_arg(0)),
        Rule("amp.get_autocast_dtype", "torch", "get_autocast_dtype", device_type_arg(0)),
        Rule("amp.set_autocast_dtype", "torch", "set_autocast_dtype", device_type_arg(0)),
    ]
