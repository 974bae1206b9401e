"""Write files atomically: a temp file in the same folder, then one rename over the target.

A reader (or a resumed run) sees the old file or the new one, never half of one. The temp file
is removed if writing fails, and the result gets the user's usual permissions (``mkstemp``
alone would leave it 0600).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _user_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temp file name next to ``path``; on success it is renamed to ``path``.

    For writers that need a file name (a video encoder, ``savefig``). ``suffix`` keeps the
    extension such writers look at.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _user_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8, newlines as given) atomically; ``fsync`` also flushes it to disk."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], data: Any, indent: int | None = 2, fsync: bool = False) -> Path:
    """``data`` as JSON (with a final newline), written atomically."""
    return write_text_atomic(path, json.dumps(data, indent=indent, default=str) + "\n", fsync=fsync)


__all__ = ["atomic_path", "write_text_atomic", "write_json_atomic"]
