"""``torch.cuda.is_available()``: True for the script, the truth for libraries that must know.

The vendor's ``transfer_to_npu`` fakes availability for every caller, which sends triton,
accelerate and friends down CUDA-only paths. Here callers whose module is on the exclusion
list (``EXCLUDED_CALLERS`` plus ``--truthful``) get the real answer; everyone else gets the
policy's answer, so the script takes its CUDA path and the rules send that path to the target.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

from npu_compat.errors import NpuCompatError

from npu_compat.patcher import Category, Context, Rule
from npu_compat.target import Target

EXCLUDED_CALLERS: tuple[str, ...] = (
    "torch", "triton", "torchvision", "accelerate", "transformers", "diffusers", "deepspeed",
    "bitsandbytes", "xformers", "apex", "numba", "cupy", "jax", "tensorflow", "lightning",
    "pytorch_lightning", "npu_compat",
)
# The kit's commands are the shim's users (sam3-demo is written as a CUDA user writes a script): policy's answer.
USER_CALLERS: tuple[str, ...] = ("npu_compat.commands",)
POLICIES = ("target", "truth", "false")


def _under(module_name: str, prefixes: tuple[str, ...]) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in prefixes)


def is_excluded(module_name: str, prefixes: tuple[str, ...]) -> bool:
    return _under(module_name, prefixes) and not _under(module_name, USER_CALLERS)


def caller_policy(ctx: Context, original: Any) -> Callable[[str], bool | None]:
    """For a caller's module name: the policy's answer, or None where the caller gets the truth."""
    policy = ctx.options.cuda_available
    if policy not in POLICIES:
        raise NpuCompatError(f"unknown --cuda-available policy '{policy}'", f"use one of {', '.join(POLICIES)}")
    prefixes = EXCLUDED_CALLERS + tuple(ctx.options.truthful)
    answer = {"target": True, "false": False}.get(policy)
    seen: dict[str, bool] = {}

    def answer_for(name: str) -> bool | None:
        excluded = seen.get(name)
        if excluded is None:
            excluded = seen[name] = is_excluded(name, prefixes)
        return None if excluded else answer

    return answer_for


def is_available_rule(ctx: Context, rule: Rule, original: Any) -> Any:
    """An ``is_available`` that answers by the caller's policy (``torch.cuda`` and ``torch.accelerator``)."""
    answer_for = caller_policy(ctx, original)
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def is_available() -> bool:
        answer = answer_for(sys._getframe(1).f_globals.get("__name__", ""))
        if answer is None:
            return original()
        hit(key, cat, "real answer", answer)
        return answer

    return is_available


def availability_rules(target: Target) -> list[Rule]:
    if target.type == "cuda":
        return []
    return [
        Rule("cuda.is_available", "torch.cuda", "is_available", is_available_rule, Category.MODIFIED,
             "answers by policy (default True: the target stands in for CUDA) to callers outside the exclusion list"),
    ]
