"""Autocast and gradient scaling with device "cuda" -> the target, under an autocast policy.

The policy (``--autocast`` / ``NPU_COMPAT_AUTOCAST``) decides the dtype of every autocast region
the script opens for "cuda":

- ``auto`` (default): the script's dtype where the target computes it natively, else fp32
  (autocast off). A CPU without AVX512-BF16/AMX emulates bf16 at about 84x the cost of fp32,
  so a bf16 region there becomes fp32.
- ``keep``: the script's dtype, always.
- ``fp32``: autocast off.
- ``bf16`` / ``fp16``: that dtype.

``torch.autocast("cuda")`` with no dtype means fp16, CUDA's default, not the target's default
(the cpu's is bf16). Autocasts the script opens for other devices ("cpu", "npu") are its own
choice and are left alone.
"""
from __future__ import annotations

import functools
import os
import warnings
from typing import Any

import torch

from npu_compat.errors import NpuCompatError
from npu_compat.patcher import Category, Context, Rule
from npu_compat.rules.wrappers import deprecation, device_type_arg, record_only
from npu_compat.target import Target

POLICIES = ("auto", "keep", "fp32", "bf16", "fp16")
ENV_VAR = "NPU_COMPAT_AUTOCAST"
CUDA_DEFAULT_DTYPE = torch.float16
_FORCED = {"bf16": torch.bfloat16, "fp16": torch.float16}


def policy_name(options: Any) -> str:
    """The policy in force: the option, else ``$NPU_COMPAT_AUTOCAST``, else auto; unknown names are errors."""
    name = (getattr(options, "autocast", None) or os.environ.get(ENV_VAR) or "auto").lower()
    if name not in POLICIES:
        raise NpuCompatError(f"unknown autocast policy '{name}'", f"use one of {', '.join(POLICIES)}")
    return name


def policy_dtype(policy: str, requested: torch.dtype | None, native: tuple[torch.dtype, ...]) -> torch.dtype | None:
    """The dtype a "cuda" autocast region runs in on the target; None means autocast off (fp32)."""
    want = requested or CUDA_DEFAULT_DTYPE
    if policy == "keep":
        return want
    if policy == "fp32":
        return None
    if policy in _FORCED:
        return _FORCED[policy]
    return want if (want in native or want == torch.float32) else None


def region_dtype(ctx: Context, requested: torch.dtype | None) -> torch.dtype | None:
    """``policy_dtype`` for this session's policy and target (for client rule packs too)."""
    return policy_dtype(policy_name(ctx.options), requested, ctx.target.native_autocast_dtypes)


def _name(dtype: torch.dtype | None) -> str:
    return "fp32 (autocast off)" if dtype is None else str(dtype).replace("torch.", "")


def _autocast_init(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat, target = ctx.report.hit, rule.key, rule.category.value, ctx.target
    policy, native = policy_name(ctx.options), target.native_autocast_dtypes
    decided: dict[Any, torch.dtype | None] = {}

    @functools.wraps(original)
    def __init__(self: Any, device_type: str, dtype: torch.dtype | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if device_type != "cuda":
            return original(self, device_type, dtype, enabled, cache_enabled)
        if dtype not in decided:
            decided[dtype] = policy_dtype(policy, dtype, native)
        new = decided[dtype]
        if enabled:
            hit(key, cat, f"cuda/{_name(dtype or CUDA_DEFAULT_DTYPE)}", f"{target.type}/{_name(new)}")
        if new is None:
            return original(self, target.type, None, False, cache_enabled)
        return original(self, target.type, new, enabled, cache_enabled)

    return __init__


def _cuda_amp_autocast_init(ctx: Context, rule: Rule, original: Any) -> Any:
    """``torch.cuda.amp.autocast(...)``: counted with the dtype its region really runs in. Its
    ``__init__`` calls ``autocast.__init__("cuda", ...)`` from inside torch, where the amp.autocast
    row applies the policy but records no call site."""
    hit, key, cat, target = ctx.report.hit, rule.key, rule.category.value, ctx.target
    policy, native = policy_name(ctx.options), target.native_autocast_dtypes
    deprecated = deprecation(original)
    init = original if deprecated is None else deprecated[0]

    @functools.wraps(original)
    def __init__(self: Any, enabled: bool = True, dtype: torch.dtype = CUDA_DEFAULT_DTYPE,
                 cache_enabled: bool = True) -> None:
        if deprecated is not None:
            warnings.warn(deprecated[1], deprecated[2], stacklevel=2)
        if enabled:
            hit(key, cat, f"cuda/{_name(dtype)}", f"{target.type}/{_name(policy_dtype(policy, dtype, native))}")
        init(self, enabled, dtype, cache_enabled)

    return __init__


def _policy_note(target: Target) -> str:
    native = ", ".join(str(d).replace("torch.", "") for d in target.native_autocast_dtypes) or "none"
    return ("'cuda' autocast regions go to the target in the policy's dtype (default: the script's where the "
            f"target runs it natively, else fp32; native here: {native}); no dtype means fp16, CUDA's default")


def amp_rules(target: Target) -> list[Rule]:
    if target.type == "cuda":
        return []
    return [
        Rule("amp.autocast", "torch.amp.autocast_mode.autocast", "__init__", _autocast_init, Category.MODIFIED,
             _policy_note(target)),
        Rule("amp.cuda.autocast", "torch.cuda.amp.autocast", "__init__", _cuda_amp_autocast_init, Category.MODIFIED,
             _policy_note(target)),
        Rule("amp.GradScaler", "torch.amp.grad_scaler.GradScaler", "__init__", device_type_arg(1, "device")),
        Rule("amp.cuda.GradScaler", "torch.cuda.amp.GradScaler", "__init__", record_only("torch.cuda.amp.GradScaler")),
        Rule("amp.custom_fwd", "torch.amp", "custom_fwd", device_type_arg(99)),
        Rule("amp.custom_bwd", "torch.amp", "custom_bwd", device_type_arg(99)),
        # the script's "cuda" is the target; torch itself sees the state as it is (wrappers.device_type_arg)
        Rule("amp.is_autocast_enabled", "torch", "is_autocast_enabled", device_type_arg(0, users_only=True)),
        Rule("amp.get_autocast_dtype", "torch", "get_autocast_dtype", device_type_arg(0, users_only=True)),
        Rule("amp.set_autocast_dtype", "torch", "set_autocast_dtype", device_type_arg(0, users_only=True)),
    ]
