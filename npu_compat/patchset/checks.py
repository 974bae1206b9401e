"""Checks after applying: touched files compile, no added line is duplicated near its
hunk (the misplaced insert fuzz causes), and `import sam3` works on CPU without triton."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from npu_compat.patchset.applier import REJECT
from npu_compat.patchset.engine import PatchReport, read_lines
from npu_compat.patchset.hunks import Hunk
from npu_compat.patchset.series import Patch

# Lines too common to flag when repeated nearby (closing brackets, `else:`, `return x`...).
_MIN_SIGNIFICANT = 12


def compile_errors(tree: Path, relpaths: list[str]) -> list[str]:
    """One line per touched .py file that does not compile."""
    problems = []
    for rel in sorted(set(relpaths)):
        path = tree / rel
        if path.suffix != ".py" or not path.exists():
            continue
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        except SyntaxError as err:
            problems.append(f"{rel}:{err.lineno}: does not compile: {err.msg}")
    return problems


def duplicate_inserts(tree: Path, patch: Patch, report: PatchReport, window: int = 6) -> list[str]:
    """Added lines found more often within `window` lines of their hunk than this patch
    puts there: a copy that was already present survived (what a fuzzy apply causes)."""
    problems: list[str] = []
    if report.status == REJECT:  # nothing of a rejected patch was written; the reject is the failure
        return problems
    for change, file_report in zip(patch.files, report.files):
        path = tree / change.path
        if change.is_deleted or not path.exists():
            continue
        lines = read_lines(path)
        placed = [(hunk, result.line - 1) for hunk, result in zip(change.hunks, file_report.hunks)
                  if result.line is not None]
        for hunk, first in placed:
            start, stop = max(0, first - window), first + len(hunk.new_lines) + window
            near = lines[start:stop]
            for text in set(hunk.added):
                if len(text.strip()) < _MIN_SIGNIFICANT or text in hunk.old_lines:
                    continue
                expected = 0  # copies this patch's hunks put inside the window
                for other, other_first in placed:
                    for offset, line in enumerate(other.new_lines):
                        if start <= other_first + offset < stop and line == text and \
                                offset in _added_offsets(other):
                            expected += 1
                found = near.count(text)
                if found != expected:
                    problems.append(f"{patch.name}: {change.path}:{first + 1}: added line "
                                    f"{text.strip()!r} appears {found}x near its hunk, expected {expected}x")
    return problems


def _added_offsets(hunk: Hunk) -> set[int]:
    """Indexes into `hunk.new_lines` of the lines the hunk adds."""
    offsets, index = set(), 0
    for op, _ in hunk.ops:
        if op == "+":
            offsets.add(index)
        if op != "-":
            index += 1
    return offsets


_IMPORT_PROBE = r"""
import importlib.abc, sys
import torch  # torch probes for triton itself at import; block every later import of it
class NoTriton(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "triton" or name.startswith("triton."):
            raise ImportError(f"{name} blocked: this check emulates a host without triton")
sys.meta_path.insert(0, NoTriton())
for name in [m for m in sys.modules if m == "triton" or m.startswith("triton.")]:
    del sys.modules[name]
sys.path.insert(0, sys.argv[1])
import sam3
assert sam3.__file__.startswith(sys.argv[1]), sam3.__file__
print("imported", sam3.__file__)
"""


def import_without_triton(tree: Path, timeout: float = 300) -> str | None:
    """None if `import sam3` from `tree` succeeds on CPU with triton blocked, else the error line."""
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, str(Path(tree).resolve())],
                          capture_output=True, text=True, timeout=timeout,
                          env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""})
    if proc.returncode == 0:
        return None
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    return f"import sam3 without triton failed: {lines[-1] if lines else proc.returncode}"
