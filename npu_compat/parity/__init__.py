"""Parity tooling: does the device compute what the CPU computes?

- ``capture``: record every aten op a run calls (TorchDispatchMode) into an ``Inventory``.
- ``replay``: run each inventory entry on a device and on a CPU golden in higher precision,
  judged by per-op-class standards (``standards``), modelled on Ascend msprobe.
- ``e2e``: stage-by-stage comparison of the SAM3 image pipeline (device vs CPU).
- ``coverage``: which inventory ops have no kernel in a torch_npu release, and which hit a
  documented dtype/argument limit.
- ``report``: JSON + Markdown tables, worst first.

CLI: ``python -m npu_compat.parity --help``. Nothing happens at import time.
"""
from __future__ import annotations


class ParityError(Exception):
    """A user-facing parity error: one line saying what happened and what to do."""
