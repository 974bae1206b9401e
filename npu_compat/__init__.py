"""npu_compat: run CUDA-written PyTorch code (SAM3 first) on any torch device.

Nothing happens at import time. ``npu_compat.apply()`` installs the shim and returns the
session (target, report); ``npu_compat.revert()`` restores torch exactly.
"""
from __future__ import annotations

from typing import Any

__all__ = ["apply", "revert", "current"]
__version__ = "0.1.0"


def apply(device: str | None = None, **kwargs: Any) -> Any:
    """Install the shim for ``device`` (or ``NPU_COMPAT_DEVICE``, or the best available)."""
    from npu_compat import shim

    return shim.apply(device, **kwargs)


def revert() -> None:
    """Remove the shim."""
    from npu_compat import shim

    shim.revert()


def current() -> Any:
    """The active shim session, or None."""
    from npu_compat import shim

    return shim.current()
