"""Graph capture on the simulated npu (placeholder until capture lands): the fallback's hooks."""
from __future__ import annotations

from typing import Any


def check(name: str, base: str, args: tuple[Any, ...]) -> None:
    return None


def check_copy(src: Any, dst: Any) -> None:
    return None


def record(op: Any, args: Any, kwargs: Any, result: Any) -> None:
    return None
