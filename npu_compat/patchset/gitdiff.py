"""Unified diffs made by real git (`git diff --cached` in a scratch repository)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from npu_compat.atomic_files import write_text_atomic
from npu_compat.patchset.errors import PatchError

_GIT = ["git", "-c", "core.autocrlf=false", "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false",
        "-c", "core.quotepath=false", "-c", "user.name=npu_compat", "-c", "user.email=npu_compat@localhost",
        "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def require_git(what: str, alternative: str = "") -> None:
    """PatchError (one line naming the fix) when the `git` program is not on PATH."""
    if shutil.which("git") is None:
        raise PatchError(f"{what} needs the git program, which is not on PATH; install git "
                         f"(e.g. apt-get install git){alternative}")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    proc = subprocess.run([*_GIT, "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return proc.stdout


def write_files(root: Path, files: dict[str, str | None]) -> None:
    """Write each relative path's text under ``root``; None deletes the file."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            if path.exists():
                path.unlink()
            continue
        write_text_atomic(path, text)


def git_diff(before: dict[str, str | None], after: dict[str, str | None], context: int = 3) -> str:
    """`git diff` (a/ b/ prefixes, no rename detection) from `before` to `after` file texts
    (relative path -> text; None = file absent)."""
    with tempfile.TemporaryDirectory(prefix="npu_compat_diff_") as tmp:
        repo = Path(tmp)
        _git(repo, "init", "-q")
        write_files(repo, before)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", "before")
        write_files(repo, after)
        _git(repo, "add", "-A")
        return _git(repo, "diff", "--cached", "--no-color", "--no-renames", "--no-ext-diff", f"-U{context}")
