"""What a shim session is asked to do: the target device and every switch of ``apply()``.

The engine hands these to each rule's factory (``patcher.Context.options``); the session reads
them; ``child_processes`` carries them across ``exec`` to every process the script starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from npu_compat.npu import RuntimeProfile


@dataclass(frozen=True)
class ShimOptions:
    device: str | None = None
    strict: bool = False
    cuda_available: str = "target"  # "target" (True), "truth" or "false"; see rules/availability.py
    truthful: tuple[str, ...] = ()  # extra module prefixes that see the real is_available()
    npu_profile: RuntimeProfile = RuntimeProfile()
    packs_off: tuple[str, ...] = ()  # rule packs left out (npu_compat/rule_packs.py)
    pack_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per pack, by pack name
    fallback_off: tuple[str, ...] = ()
    log_level: str | None = field(default=None, metadata={"reporting": True})  # how much the report says, not what runs
    autocast: str | None = None  # "auto" (default), "keep", "fp32", "bf16", "fp16"; see rules/amp.py
    device_count: int = 1  # cpu target: how many "cuda" devices the script sees (all of them the CPU)
    fused_attention: bool = False  # npu: SDPA -> torch_npu.npu_fusion_attention; see rules/fused_attention.py


def behaviour_fields() -> tuple[str, ...]:
    """The options that change what a session does: all but ``device`` and the reporting-only ones.

    A second ``apply()`` whose options differ from the active session's only in reporting options
    (``log_level``) returns the active session unchanged; one that differs in any of these is an error
    (over a session the torch-import hook applied, any difference replaces it instead).
    """
    return tuple(f.name for f in fields(ShimOptions) if f.name != "device" and not f.metadata.get("reporting"))
