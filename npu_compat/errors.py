"""Errors a user can hit. Each says what happened and what to do, on one line."""
from __future__ import annotations


class NpuCompatError(Exception):
    """Base class: the CLI prints ``str(err)`` on one line and exits with status 2."""

    def __init__(self, what: str, fix: str = "") -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what}; {fix}" if fix else what)


class TargetError(NpuCompatError):
    """The requested device cannot be used (unknown, missing backend, version mismatch)."""


class RuleError(NpuCompatError):
    """A rule cannot be installed (signature drift in strict mode, bad table row)."""


class FallbackError(NpuCompatError):
    """A fallback fired in strict mode."""


class KernelListError(NpuCompatError):
    """A torch_npu kernel list cannot be read or found."""


class MissingApiError(NpuCompatError, RuntimeError):
    """A CUDA API the target has no equivalent for was called (a RuntimeError too, so code that
    probes CUDA with ``except RuntimeError`` keeps working)."""
