"""The kit's one writer of output files: atomically (a temp file in the same folder, then one rename over the
target), or append-only for logs.

A reader (or a resumed run) sees the old file or the new one, never half of one. The temp file
is removed if writing fails, and the result gets the user's usual permissions (``mkstemp``
alone would leave it 0600).

Links: an output path that is a symbolic link has the link replaced by the new file; the file the link
points to is never written (``-o /etc/passwd-link`` run as root leaves /etc/passwd alone).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator


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


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """``write(tmp)`` writes the content to a temp file named like ``path`` (same extension), which then replaces
    ``path``: for writers that take a file name (``Image.save``, ``savefig``)."""
    target = Path(path)
    with atomic_path(target, suffix=target.suffix or ".tmp") as tmp:
        write(Path(tmp))
    return target


def replace_link(path: str | os.PathLike[str]) -> None:
    """Remove ``path`` if it is a symbolic link, so what is written next is a new file in its place."""
    if Path(path).is_symlink():
        os.unlink(path)


def open_append(path: str | os.PathLike[str], binary: bool = False) -> IO[Any]:
    """Open ``path`` for appending (created with the user's usual mode); a link there is replaced, not followed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_link(target)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    return os.fdopen(fd, "ab") if binary else os.fdopen(fd, "a", encoding="utf-8")


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


__all__ = ["atomic_path", "write_atomic", "replace_link", "open_append", "write_text_atomic", "write_json_atomic"]
