"""A run ended by SIGTERM still writes its report.

``timeout``, Slurm and Kubernetes stop a program with SIGTERM, whose default action ends the
process at once: no ``finally``, no ``atexit``, so no report. While the shim is on, the process
that applied it (the root, in its main thread) turns SIGTERM into ``SystemExit(143)`` (128 + 15,
the status a shell reports for SIGTERM), so the report is written on the way out. Only where
SIGTERM still has its default action: a handler of the program's own is left alone, and child
processes (which a parent may stop on purpose) are not touched. ``revert()`` puts the default back.
"""
from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from npu_compat.session import Session

EXIT_STATUS = 128 + signal.SIGTERM


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise SystemExit(EXIT_STATUS)


def report_on_sigterm(session: "Session") -> None:
    if session.is_child or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    session.sigterm_handler = signal.SIG_DFL


def restore_sigterm(session: "Session") -> None:
    if session.sigterm_handler is None or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
        signal.signal(signal.SIGTERM, session.sigterm_handler)
    session.sigterm_handler = None
