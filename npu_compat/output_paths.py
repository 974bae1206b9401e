"""Checks that an output path can be written, run before any work starts (no file is created).

The kit's CLIs use these so that a report or result path that is a folder, lies under a file,
or sits in a read-only place is a one-line error up front, not a traceback after the run.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from npu_compat.errors import NpuCompatError


class InputError(NpuCompatError):
    """Something the user passed cannot be used."""


def _first_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _probe_writable(folder: Path, what: str, path: Path) -> None:
    """A real write probe: root ignores permission bits, so checking them would say nothing."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".npu_compat-write-probe-", dir=folder)
    except OSError as err:
        raise InputError(f"{what} {path} cannot be written ({err.strerror or err})",
                         "choose a folder you can write to") from None
    os.close(fd)
    os.unlink(tmp)


def check_output_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """A folder that exists or can be created and written to (nothing is created here)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what} {p} is a file", "choose a folder path (it is created if missing)")
    base = _first_existing(p.absolute())
    if not base.is_dir():
        raise InputError(f"{what} {p} is under the file {base}", "choose a folder path that is not inside a file")
    _probe_writable(base, what, p)
    return p


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """A file path whose folder exists or can be created and written to; not a folder itself."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder", "give a file name, e.g. out/preds.json")
    base = _first_existing(p.absolute().parent)
    if not base.is_dir():
        raise InputError(f"{what} {p} is under the file {base}", "choose a path that is not inside a file")
    _probe_writable(base, what, p)
    return p


__all__ = ["InputError", "check_output_dir", "check_output_file"]
