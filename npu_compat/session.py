"""One shim session's state: its target, options, report, patcher, NPU settings and child processes.

``shim.apply()`` builds it and ``shim.current()`` returns it; ``child_processes`` reads and
updates its process fields, so both import it from here, below them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from npu_compat.npu import Setting
from npu_compat.patcher import Patcher
from npu_compat.report import MigrationReport
from npu_compat.shim_options import ShimOptions
from npu_compat.target import Target


@dataclass
class Session:
    target: Target
    options: ShimOptions
    report: MigrationReport
    patcher: Patcher
    settings: list[Setting] = field(default_factory=list)
    apply_seconds: float = 0.0
    # child processes (npu_compat/child_processes.py)
    is_child: bool = False  # started by a shimmed parent: reports to it instead of the user
    process_dir: str | None = None  # root only: where the children's reports arrive
    saved_env: dict[str, str | None] = field(default_factory=dict)
    finished: bool = False  # the exit report of this process is written
    pid: int = field(default_factory=os.getpid)  # the process that applied it (a forked child differs)

    def report_device_fallback(self, op: str) -> None:
        """Count an op the device itself ran on the CPU (torch_npu's fallback, seen by the simulated npu)."""
        registry = self.report.fallbacks
        if registry is not None:
            registry.record_external(op, "cpu-and-back", "torch_npu")
