"""What the kit and the simulated npu share, so that neither imports the other.

The simulated npu (``npu_compat/sim/``, a test double of torch_npu + CANN + the chip) may read only
torch and the base layer; the kit never imports it. They meet here:

- ``NPU_COMPAT_SIMULATE=torch_npu==X`` (``--simulate``): which torch_npu release is simulated;
- :data:`TARGET_NOTES`: what the device adds to the target's notes in the migration report
  (what hardware would refuse or lack);
- :func:`device_fallback`: the device ran an op on the CPU (torch_npu's own fallback); the shim's
  session listens while it is on and counts it in the report.
"""
from __future__ import annotations

import os
from typing import Callable

from npu_compat.errors import TargetError

SIMULATE_ENV = "NPU_COMPAT_SIMULATE"
TARGET_NOTES: list[str] = []  # the target's report notes: under simulation, what hardware would refuse or lack
_FALLBACK_LISTENER: Callable[[str], None] | None = None


def simulated_version(environ: dict[str, str] | None = None) -> str | None:
    """The torch_npu release simulated under ``NPU_COMPAT_SIMULATE=torch_npu==X`` (``--simulate``), or None."""
    env = os.environ if environ is None else environ
    spec = env.get(SIMULATE_ENV, "").strip()
    if not spec:
        return None
    name, sep, version = spec.partition("==")
    if name.strip() != "torch_npu" or not sep or not version.strip():
        raise TargetError(f"{SIMULATE_ENV}={spec!r} is not 'torch_npu==VERSION'",
                          "use e.g. --simulate torch_npu==2.7.1.post2 (docs/simulated-npu.md)")
    return version.strip()


def listen_for_device_fallbacks(listener: Callable[[str], None] | None) -> None:
    """Who hears of the device's CPU fallbacks from now on (the shim's session; None: nobody)."""
    global _FALLBACK_LISTENER
    _FALLBACK_LISTENER = listener


def device_fallback(op: str) -> None:
    """The device ran ``op`` on the CPU: tell the listener, if a shim session is on."""
    listener = _FALLBACK_LISTENER
    if listener is not None:
        listener(op)
