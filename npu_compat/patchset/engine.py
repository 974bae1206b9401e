"""Apply whole patches and series to a tree, on a copy: a failed series writes nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from npu_compat.atomic_files import write_text_atomic
from npu_compat.patchset.applier import ALREADY, FUZZ, OFFSET, REJECT, FileResult, HunkResult, apply_hunks
from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.hunks import FilePatch
from npu_compat.patchset.paths import resolve_inside
from npu_compat.patchset.series import Patch

MIXED = "mixed"  # a patch with some hunks applied and some already present


@dataclass
class FileReport:
    path: str
    hunks: list[HunkResult]
    note: str = ""  # "new file", "deleted", "renamed from X", "already present"


@dataclass
class PatchReport:
    name: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def hunk_results(self) -> list[HunkResult]:
        return [h for f in self.files for h in f.hunks]

    @property
    def status(self) -> str:
        """reject > fuzz > mixed > offset > already-applied > exact, over all hunks.

        `mixed`: some hunks applied and others were already present. The tree is right, but
        `git apply` of this patch fails: refresh it (the present hunks drop out)."""
        states = {h.status for h in self.hunk_results} or {"exact"}
        for worst in (REJECT, FUZZ):
            if worst in states:
                return worst
        if ALREADY in states and states != {ALREADY}:
            return MIXED
        if OFFSET in states:
            return OFFSET
        return ALREADY if states == {ALREADY} else "exact"

    @property
    def already_present(self) -> int:
        """How many hunks were already present in the tree."""
        return sum(h.status == ALREADY for h in self.hunk_results)


@dataclass
class SeriesReport:
    patches: list[PatchReport] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return all(p.status != REJECT for p in self.patches)

    def strict_ok(self) -> bool:
        """No reject, no fuzz, no mixed patch (offset is accepted, as Yocto and dpkg do)."""
        return all(p.status not in (REJECT, FUZZ, MIXED) for p in self.patches)


def read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read().splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> None:
    write_text_atomic(path, "".join(lines))


def _plan_file(root: Path, change: FilePatch, fuzz: int) -> tuple[FileReport, list[tuple[str, object]]]:
    """Compute one file's outcome in memory; returns its report and the writes it needs."""
    old = resolve_inside(root, change.old_path) if change.old_path else None
    new = resolve_inside(root, change.new_path) if change.new_path else None
    if change.is_new:
        assert new is not None
        result = apply_hunks([], change.hunks, fuzz=fuzz)
        if new.exists():
            present = apply_hunks(read_lines(new), [h.reversed() for h in change.hunks])
            if present.ok and present.lines == []:
                hunks = [HunkResult(i, ALREADY) for i in range(len(change.hunks))]
                return FileReport(change.path, hunks, "already present"), []
            return FileReport(change.path, [HunkResult(i, REJECT) for i in range(len(change.hunks))],
                              "new file already exists with other content"), []
        return FileReport(change.path, result.hunks, "new file"), [("write", (new, result.lines))]
    source = old if old is not None and old.exists() else None
    if source is None:
        if change.is_rename and new is not None and new.exists():
            result = apply_hunks(read_lines(new), change.hunks, fuzz=fuzz)
            if result.already_applied or not change.hunks:
                hunks = [HunkResult(i, ALREADY) for i in range(len(change.hunks))]
                return FileReport(change.path, hunks, f"already renamed from {change.old_path}"), []
        if change.is_deleted:
            return FileReport(change.path, [HunkResult(i, ALREADY) for i in range(len(change.hunks))],
                              "already deleted"), []
        # a file this upstream does not have (a newer base added it, or a wrong tree): every hunk
        # rejects, as `git apply` fails there, so a matrix row can say so instead of stopping
        return FileReport(change.path, [HunkResult(i, REJECT) for i in range(len(change.hunks))],
                          "file to patch does not exist in the tree; is --upstream the right sam3 tree?"), []
    result: FileResult = apply_hunks(read_lines(source), change.hunks, fuzz=fuzz)
    writes: list[tuple[str, object]] = []
    note = ""
    if change.is_deleted:
        note = "deleted"
        if result.ok and result.lines:
            result.hunks.append(HunkResult(len(result.hunks), REJECT))
            note = "deleted file has content the patch does not remove"
        writes.append(("delete", source))
    elif change.is_rename:
        assert new is not None
        note = f"renamed from {change.old_path}"
        writes += [("write", (new, result.lines)), ("delete", source)]
    else:
        assert new is not None
        if not result.already_applied:
            writes.append(("write", (new, result.lines)))
    return FileReport(change.path, result.hunks, note), writes


def apply_patch(root: str | os.PathLike[str], patch: Patch, *, fuzz: int = 0, dry_run: bool = False) -> PatchReport:
    """Apply one patch to `root` all-or-nothing: every path is checked and every hunk
    placed in memory before the first write; any reject means nothing is written."""
    root = Path(root)
    files = patch.files  # parses (PatchError on malformed/binary/unsafe paths)
    for change in files:  # refuse unsafe paths before computing or writing anything
        for rel in (change.old_path, change.new_path):
            if rel:
                resolve_inside(root, rel)
    report = PatchReport(patch.name)
    all_writes: list[tuple[str, object]] = []
    for change in files:
        file_report, writes = _plan_file(root, change, fuzz)
        report.files.append(file_report)
        all_writes += writes
    if dry_run or report.status == REJECT:
        return report
    for kind, payload in all_writes:
        if kind == "write":
            target, lines = payload  # type: ignore[misc]
            _write(target, lines)
        else:
            Path(payload).unlink()  # type: ignore[arg-type]
    return report


def apply_series(upstream: str | os.PathLike[str], patches: list[Patch], *, out: str | os.PathLike[str] | None = None,
                 fuzz: int = 0, keep_going: bool = False,
                 after_patch: Callable[[Path, Patch, PatchReport], None] | None = None,
                 ) -> tuple[SeriesReport, Path | None]:
    """Apply the series to a copy of `upstream`. With `out`, the patched copy is moved there
    only if every patch applied; `upstream` itself is never modified.
    `after_patch(tree, patch, report)` runs after each patch (checks that need the tree then).
    Returns (report, path of the patched copy or None; without `out` the caller removes
    its parent folder)."""
    upstream = Path(upstream)
    if out is not None and Path(out).exists() and any(Path(out).iterdir()):
        raise PatchError(f"--out {out} exists and is not empty; choose a new directory")
    parent = Path(out).resolve().parent if out is not None else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="npu_compat_patch_", dir=parent))
    tree = work / "tree"
    shutil.copytree(upstream, tree, symlinks=True)
    report = SeriesReport()
    try:
        for patch in patches:
            patch_report = apply_patch(tree, patch, fuzz=fuzz)
            report.patches.append(patch_report)
            if after_patch is not None:
                after_patch(tree, patch, patch_report)
            if patch_report.status == REJECT and not keep_going:
                break
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out is None:
        return report, tree
    if report.applied and len(report.patches) == len(patches):
        if Path(out).exists():
            Path(out).rmdir()
        os.replace(tree, out)
        shutil.rmtree(work, ignore_errors=True)
        return report, Path(out)
    shutil.rmtree(work, ignore_errors=True)
    return report, None
