"""Rebase the series onto a new upstream: apply, else 3-way merge each file, then
rewrite every patch from real `git diff` output so it applies with zero offset and fuzz.

A patch whose merge conflicts is never written as if clean: it is left out of the refreshed
`series` (a comment line says so), its merge markers go to `conflicts/<patch>/<path>` with the
patch's old text beside them, and the upstream tree the later patches are refreshed on does not
hold any part of it. Before anything is written, every refreshed patch is applied to a fresh
copy of the new upstream and must be exact; otherwise nothing is written."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from npu_compat.patchset.applier import ALREADY, FUZZ, REJECT
from npu_compat.patchset.engine import MIXED, PatchReport, apply_patch, apply_series
from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.gitdiff import git_diff, write_files
from npu_compat.patchset.merge import three_way
from npu_compat.patchset.series import Patch, render_patch, split_header, write_atomic

CONFLICTS = "conflicts"


@dataclass
class PatchRefresh:
    name: str
    status: str  # clean / offset / merged / partly-upstreamed / upstreamed / conflict(k)
    conflict_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # per file: each hunk's verdict on the new upstream

    @property
    def notes_paths(self) -> list[str]:
        """The files named in the notes (those this patch touches)."""
        return [note.split(": ", 1)[0] for note in self.notes]

    @property
    def written(self) -> bool:
        return not self.conflict_files and self.status != "upstreamed"


@dataclass
class RefreshReport:
    out_dir: Path
    patches: list[PatchRefresh] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Path]:
        return [path for p in self.patches for path in p.conflict_files]

    @property
    def left_out(self) -> list[str]:
        return [p.name for p in self.patches if p.conflict_files]


def _snapshot(tree: Path, rels: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for rel in rels:
        path = tree / rel
        out[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
    return out


def _touched(patch: Patch) -> list[str]:
    """Every path the patch reads or writes, once each, in order."""
    rels: list[str] = []
    for change in patch.files:
        for rel in (change.old_path, change.new_path):
            if rel and rel not in rels:
                rels.append(rel)
    return rels


def _hunk_notes(report: PatchReport) -> list[str]:
    return [f"{f.path}: " + ", ".join(f"#{h.index + 1} {h.describe()}" for h in f.hunks) for f in report.files]


def _status(attempt: PatchReport) -> str:
    return {"exact": "clean", ALREADY: "upstreamed", MIXED: "partly-upstreamed"}.get(attempt.status, attempt.status)


def _series_text(report: RefreshReport, new_base_version: str) -> str:
    lines = [f"# Refreshed onto {new_base_version} by `verify_patches.py refresh`. Applied in order with\n",
             "# `git apply` or `patch -p1` from the directory holding sam3/.\n"]
    for entry in report.patches:
        if entry.conflict_files:
            lines.append(f"# {entry.name}  LEFT OUT: {entry.status}; resolve {CONFLICTS}/{entry.name}/, "
                         "write the patch, then list it here again\n")
        elif entry.status == "upstreamed":
            lines.append(f"# {entry.name}  dropped: already in {new_base_version}\n")
        else:
            lines.append(f"{entry.name}\n")
    return "".join(lines)


def _verify_exact(new_tree: Path, texts: dict[str, str], order: list[str]) -> None:
    """Every refreshed patch applies exactly, in order, to a fresh copy of the new upstream."""
    patches = []
    for name in order:
        header, diff = split_header(texts[name])
        patches.append(Patch(name, Path(name), header, diff))
    report, tree = apply_series(new_tree, patches, keep_going=True)
    try:
        bad = [f"{p.name}: {p.status}" for p in report.patches if p.status != "exact"]
    finally:
        if tree is not None:
            shutil.rmtree(tree.parent, ignore_errors=True)
    if bad:
        raise PatchError(f"refreshed patches do not apply exactly to the new upstream ({', '.join(bad)}); "
                         "nothing was written")


def refresh_series(patches: list[Patch], base_tree: Path, new_tree: Path, new_base_version: str,
                   out_dir: Path) -> RefreshReport:
    """Write the refreshed series (patches + `series`) into `out_dir`; see the module docstring."""
    out_dir = Path(out_dir)
    if (out_dir / CONFLICTS).exists():
        raise PatchError(f"{out_dir / CONFLICTS} exists from an earlier refresh; resolve or delete it first")
    report = RefreshReport(out_dir)
    texts: dict[str, str] = {}
    conflict_texts: dict[Path, str] = {}
    work = Path(tempfile.mkdtemp(prefix="npu_compat_refresh_"))
    try:
        old_work, new_work = work / "old", work / "new"
        shutil.copytree(base_tree, old_work, symlinks=True)
        shutil.copytree(new_tree, new_work, symlinks=True)
        for patch in patches:
            rels = _touched(patch)
            before_old = _snapshot(old_work, rels)
            on_base = apply_patch(old_work, patch)
            if on_base.status in (REJECT, FUZZ, MIXED):
                raise PatchError(f"{patch.name} does not apply to its Base-Version tree ({on_base.status}); "
                                 "fix the patch (or pass the right --base) before refreshing")
            after_old = _snapshot(old_work, rels)
            before_new = _snapshot(new_work, rels)
            attempt = apply_patch(new_work, patch)  # a reject writes nothing
            entry = PatchRefresh(patch.name, _status(attempt), notes=_hunk_notes(attempt))
            if attempt.status == REJECT:
                merged = {rel: three_way(before_old[rel] or "", after_old[rel] or "", before_new[rel] or "",
                                         ours_label=patch.name, theirs_label=new_base_version) for rel in rels}
                total = sum(m.conflicts for m in merged.values())
                for rel, result in merged.items():
                    entry.notes.append(f"{rel}: 3-way {result.describe()}")
                if total:
                    entry.status = f"conflict({total})"
                    earlier = [p.name for p in report.patches if p.conflict_files and set(rels) & set(p.notes_paths)]
                    if earlier:
                        entry.notes.append(f"shares files with left-out {', '.join(earlier)}: resolve that first, "
                                           "then refresh again")
                    folder = out_dir / CONFLICTS / patch.name
                    for rel, result in merged.items():
                        if result.status == "conflict":
                            conflict_texts[folder / rel] = result.text
                            entry.conflict_files.append(folder / rel)
                    conflict_texts[folder / patch.name] = patch.path.read_text(encoding="utf-8")
                else:
                    entry.status = "upstreamed" if all(m.status == "upstreamed" for m in merged.values()) else "merged"
                    write_files(new_work, {rel: None if after_old[rel] is None and before_new[rel] is not None
                                           else result.text for rel, result in merged.items()})
            if not entry.conflict_files:
                diff = git_diff(before_new, _snapshot(new_work, rels))
                if not diff.strip():
                    entry.status = "upstreamed"
                else:
                    header = dict(patch.header)
                    header["Base-Version"] = new_base_version
                    texts[patch.name] = render_patch(header, diff)
            report.patches.append(entry)
        written = [p.name for p in report.patches if p.written]
        _verify_exact(new_tree, texts, written)
        for name in written:
            write_atomic(out_dir / name, texts[name])
        for path, text in conflict_texts.items():
            write_atomic(path, text)
        write_atomic(out_dir / "series", _series_text(report, new_base_version))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report
