"""What a shim session is asked to do: the target device and every switch of ``apply()``.

The engine hands these to each rule's factory (``patcher.Context.options``); the session reads
them; ``child_processes`` carries them across ``exec`` to every process the script starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
    log_level: str | None = None
    autocast: str | None = None  # "auto" (default), "keep", "fp32", "bf16", "fp16"; see rules/amp.py
