"""One run per output: an exclusive, non-blocking POSIX lock on ``<output>.lock`` for the run's length.

The lock dies with its process (a killed run leaves a stale file but no lock), so a later run
after a crash is not refused; a second run on the same output while the first is alive is.
A POSIX (``lockf``) lock rather than ``flock``: forked children (the RLE worker pool) do not
inherit it, so workers that outlive a killed run do not keep the output locked.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from npu_compat.errors import NpuCompatError


class RunLockedError(NpuCompatError):
    """Another live process is writing the same output."""


def lock_path(output: str | os.PathLike) -> Path:
    return Path(f"{output}.lock")


@contextlib.contextmanager
def run_lock(output: str | os.PathLike) -> Iterator[Path]:
    """Hold ``<output>.lock`` while the block runs; :class:`RunLockedError` if another process holds it."""
    path = lock_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise RunLockedError(f"{output} is being written by a run still going (pid {owner}, lock {path})",
                                 "wait for it to finish, or choose another --output-json") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock
