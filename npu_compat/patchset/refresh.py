"""Rebase the series onto a new upstream: apply, else 3-way merge each file, then
rewrite every patch from real `git diff` output so it applies with zero offset and fuzz."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from npu_compat.patchset.applier import FUZZ, REJECT
from npu_compat.patchset.engine import apply_patch
from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.gitdiff import git_diff, write_files
from npu_compat.patchset.merge import three_way
from npu_compat.patchset.series import Patch, render_patch, write_atomic


@dataclass
class PatchRefresh:
    name: str
    status: str  # clean / offset / merged / conflict(k) / upstreamed / already-applied
    conflict_files: list[Path] = field(default_factory=list)


@dataclass
class RefreshReport:
    out_dir: Path
    patches: list[PatchRefresh] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Path]:
        return [path for p in self.patches for path in p.conflict_files]


def _snapshot(tree: Path, rels: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for rel in rels:
        path = tree / rel
        out[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
    return out


def _touched(patch: Patch) -> list[str]:
    rels: list[str] = []
    for change in patch.files:
        rels += [rel for rel in (change.old_path, change.new_path) if rel and rel not in rels]
    return rels


def refresh_series(patches: list[Patch], base_tree: Path, new_tree: Path, new_base_version: str,
                   out_dir: Path) -> RefreshReport:
    """Write the refreshed series (patches + `series`) into `out_dir`; conflicts go to
    `out_dir/conflicts/<patch>/<path>` with merge markers and that patch keeps its old text."""
    out_dir = Path(out_dir)
    report = RefreshReport(out_dir)
    work = Path(tempfile.mkdtemp(prefix="npu_compat_refresh_"))
    try:
        old_work, new_work = work / "old", work / "new"
        shutil.copytree(base_tree, old_work, symlinks=True)
        shutil.copytree(new_tree, new_work, symlinks=True)
        kept: list[str] = []
        for patch in patches:
            rels = _touched(patch)
            before_old = _snapshot(old_work, rels)
            on_base = apply_patch(old_work, patch)
            if on_base.status in (REJECT, FUZZ):
                raise PatchError(f"{patch.name} does not apply to its Base-Version tree ({on_base.status}); "
                                 "fix the patch before refreshing")
            after_old = _snapshot(old_work, rels)
            before_new = _snapshot(new_work, rels)
            attempt = apply_patch(new_work, patch)
            entry = PatchRefresh(patch.name, "clean" if attempt.status == "exact" else attempt.status)
            if attempt.status == REJECT:
                states = []
                for rel in rels:
                    merged = three_way(before_old[rel] or "", after_old[rel] or "", before_new[rel] or "",
                                       ours_label=patch.name, theirs_label=new_base_version)
                    states.append(merged)
                    if merged.status == "conflict":
                        conflict = out_dir / "conflicts" / patch.name / rel
                        write_atomic(conflict, merged.text)
                        entry.conflict_files.append(conflict)
                    elif after_old[rel] is None and before_new[rel] is not None:
                        write_files(new_work, {rel: None})  # the patch deletes this file
                    else:
                        write_files(new_work, {rel: merged.text})
                total = sum(m.conflicts for m in states)
                entry.status = f"conflict({total})" if total else (
                    "upstreamed" if all(m.status == "upstreamed" for m in states) else "merged")
            after_new = _snapshot(new_work, rels)
            diff = git_diff(before_new, after_new)
            target = out_dir / patch.name
            if entry.conflict_files:
                write_atomic(target, patch.path.read_text(encoding="utf-8"))
                kept.append(patch.name)
            elif not diff.strip():
                entry.status = "upstreamed"
            else:
                header = dict(patch.header)
                header["Base-Version"] = new_base_version
                write_atomic(target, render_patch(header, diff))
                kept.append(patch.name)
            report.patches.append(entry)
        write_atomic(out_dir / "series", "".join(f"{name}\n" for name in kept))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report
