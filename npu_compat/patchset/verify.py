"""The commands behind `tools/verify_patches.py`: each returns (report lines, exit code).

Exit codes: 0 fine, 1 the series fails (reject, fuzz in strict mode, a failed check,
a matrix regression, conflicts, uncovered CUDA code), 2 bad input (PatchError)."""

from __future__ import annotations

import shutil
from pathlib import Path

from packaging.version import Version

from npu_compat.patchset import matrix as matrix_mod
from npu_compat.patchset.applier import FUZZ, REJECT
from npu_compat.patchset.checks import compile_errors, duplicate_inserts, import_without_triton
from npu_compat.patchset.engine import MIXED, PatchReport, SeriesReport, apply_series
from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.gitdiff import require_git
from npu_compat.patchset.refresh import refresh_series
from npu_compat.patchset.scan import uncovered
from npu_compat.patchset.series import Patch, base_label, header_problems, load_series, parse_base, write_atomic
from npu_compat.patchset.upstream import (PACKAGE, SNAPSHOT_ENVS, base_source, extracted_wheel, git_revision,
                                          pypi_versions, resolve_source, snapshot_for, source_label,
                                          split_git_source)


def _report_lines(report: SeriesReport, patches: list[Patch]) -> list[str]:
    lines = []
    for patch_report in report.patches:
        status = patch_report.status
        if status == MIXED:
            status += (f" ({patch_report.already_present} of {len(patch_report.hunk_results)} hunks already present, "
                       "the rest applied: `git apply` fails; refresh the series)")
        lines.append(f"{patch_report.name}: {status}")
        for file_report in patch_report.files:
            note = f" ({file_report.note})" if file_report.note else ""
            cells = ", ".join(f"#{h.index + 1} {h.describe()}" for h in file_report.hunks)
            lines.append(f"  {file_report.path}{note}: {cells}")
    for patch in patches[len(report.patches):]:
        lines.append(f"{patch.name}: not tried (an earlier patch was rejected)")
    return lines


def _apply_checked(patches: list[Patch], tree: Path, fuzz: int, out: Path | None = None,
                   ) -> tuple[SeriesReport, Path | None, list[str]]:
    problems: list[str] = []
    touched: list[str] = []

    def after(work: Path, patch: Patch, report: PatchReport) -> None:
        problems.extend(duplicate_inserts(work, patch, report))
        touched.extend(change.path for change in patch.files if not change.is_deleted)

    report, result = apply_series(tree, patches, fuzz=fuzz, keep_going=True, after_patch=after)
    if result is not None:
        problems.extend(compile_errors(result, touched))
    return report, result, problems


def cmd_check(series: Path, upstream: str, fuzz: int = 0, import_check: bool = True) -> tuple[list[str], int]:
    """Per-patch, per-hunk status on a copy of the upstream tree, plus the post-apply checks."""
    patches = load_series(series)
    lines = [f"{p.name}: header: {problem}" for p in patches for problem in header_problems(p.header)]
    tree = resolve_source(upstream)
    report, result, problems = _apply_checked(patches, tree, fuzz)
    try:
        lines += _report_lines(report, patches)
        if result is not None and report.applied and import_check:
            failure = import_without_triton(result)
            lines.append(failure or "import sam3 (CPU torch, triton and decord blocked): ok")
            if failure:
                problems.append(failure)
    finally:
        if result is not None:
            shutil.rmtree(result.parent, ignore_errors=True)
    lines += [f"check failed: {p}" for p in problems]
    statuses = {p.status for p in report.patches}
    failed = REJECT in statuses or MIXED in statuses or (FUZZ in statuses and fuzz == 0) or bool(problems) or any(
        "header:" in line for line in lines)
    lines.append(f"RESULT: {'FAIL' if failed else 'OK'} ({len(patches)} patches on {upstream})")
    return lines, 1 if failed else 0


def cmd_apply(series: Path, upstream: str, out: Path, fuzz: int = 0) -> tuple[list[str], int]:
    """Write the patched tree to `out` (only if every patch applied)."""
    patches = load_series(series)
    report, result = apply_series(resolve_source(upstream), patches, out=out, fuzz=fuzz)
    lines = _report_lines(report, patches)
    if result is None:
        lines.append(f"nothing written to {out}: the series did not apply")
        return lines, 1
    lines.append(f"patched tree written to {result}")
    return lines, 0


def _revision_source(upstream: str, as_label: str | None, date: str | None,
                     previous: dict) -> tuple[str, str, str]:
    """(row key sam3@<rev7>, full commit id, commit date) of a git: or dir: source."""
    if upstream.startswith("git:"):
        commit, commit_date = git_revision(*split_git_source(upstream))
        return base_label(PACKAGE, rev=commit), commit, date or commit_date
    package, version, rev = parse_base(source_label(upstream, as_label))
    if version or rev is None:
        raise PatchError(f"a matrix row for {upstream!r} is a git revision: pass --as sam3@<commit id>")
    key = base_label(package, rev=rev)
    known = previous.get(key, {})
    commit = rev if len(rev) == 40 else known.get("commit")
    if not commit or not commit.startswith(rev):
        raise PatchError(f"{key} is not in the committed matrix yet: pass --as sam3@<full 40-digit commit id>")
    commit_date = date or known.get("date")
    if not commit_date:
        raise PatchError(f"{key} is not in the committed matrix yet: pass --date YYYY-MM-DD (its commit date)")
    return key, commit, commit_date


def cmd_matrix(series: Path, upstream: str, json_out: Path | None, md_out: Path | None,
               committed: Path | None, as_label: str | None = None, date: str | None = None,
               ) -> tuple[list[str], int]:
    """Build the matrix rows `upstream` names (all: every PyPI release, plus each committed git
    row whose snapshot is at hand); carry the other committed rows; write JSON/Markdown
    atomically; diff the rebuilt rows against the committed JSON."""
    patches = load_series(series)
    start = committed if committed is not None else json_out
    previous = matrix_mod.load_matrix(start) if start is not None and start.exists() else {}
    old_versions, old_revisions = previous.get("versions", {}), previous.get("revisions", {})
    lines: list[str] = []
    versions: list[str] = []
    revisions: dict[str, dict] = {}
    if upstream == "all":
        versions = pypi_versions()
        for key, row in old_revisions.items():
            snapshot = snapshot_for(row["commit"])
            if snapshot is None:
                env = next((e for k, e in SNAPSHOT_ENVS.items() if row["commit"].startswith(k)), "its variable")
                lines.append(f"{key}: kept as committed (produced {row['produced']}); set {env} to rebuild it")
                continue
            revisions[key] = matrix_mod.revision_row(patches, snapshot, row["commit"], row["date"])
    elif upstream.startswith("pypi:") and "==" in upstream:
        versions = [upstream.split("==", 1)[1]]
    elif upstream.startswith(("git:", "dir:")):
        key, commit, commit_date = _revision_source(upstream, as_label, date, old_revisions)
        revisions[key] = matrix_mod.revision_row(patches, resolve_source(upstream), commit, commit_date)
    else:
        raise PatchError(f"matrix needs --upstream all, pypi:sam3==X, git:REPO@REV or dir:PATH --as sam3@REV, "
                         f"got {upstream!r}")
    built = matrix_mod.build_matrix(patches, versions, extracted_wheel, revisions)
    matrix = {**built, "versions": {**{k: v for k, v in old_versions.items() if k not in built["versions"]},
                                    **built["versions"]},
              "revisions": dict(sorted({**old_revisions, **revisions}.items()))}
    matrix["versions"] = dict(sorted(matrix["versions"].items(), key=lambda kv: Version(kv[0])))
    for version, row in built["versions"].items():
        lines.append(f"sam3=={version}: {row['result']} " + " ".join(
            f"{k.split('-', 1)[0]}={c}" for k, c in row["patches"].items()) + f" imports={row['imports']} "
            f"tiny_cpu={row['tiny_cpu']}")
    for key, row in revisions.items():
        lines.append(f"{key} ({row['commit'][:12]}, {row['date']}): {row['result']} " + " ".join(
            f"{k.split('-', 1)[0]}={c}" for k, c in row["patches"].items()) + f" imports={row['imports']} "
            f"tiny_cpu={row['tiny_cpu']}")
    problems = matrix_mod.revision_format_problems(matrix)
    lines += [f"matrix format: {p}" for p in problems]
    if json_out is not None and not problems:
        write_atomic(json_out, matrix_mod.to_json(matrix))
    if md_out is not None and not problems:
        write_atomic(md_out, matrix_mod.to_markdown(matrix))
    if problems:
        return lines + ["RESULT: FAIL (malformed git rows; nothing written)"], 1
    if committed is not None:
        if not committed.exists():
            raise PatchError(f"committed matrix {committed} not found; run `matrix --write` once and commit it")
        rebuilt = set(built["versions"]) | set(revisions)
        differences = matrix_mod.matrix_differences(matrix_mod.load_matrix(committed), matrix, only=rebuilt)
        lines += [f"matrix regression: {d}" for d in differences]
        if differences:
            return lines + ["RESULT: FAIL (matrix differs from the committed one)"], 1
    return lines + ["RESULT: OK"], 0


def cmd_refresh(series: Path, upstream: str, out_dir: Path | None, as_label: str | None = None,
                base: str | None = None) -> tuple[list[str], int]:
    """3-way rebase of the series onto `upstream`; rewrites patches (in place by default).

    The refreshed patches get `Base-Version` = what `upstream` is (`sam3==X` / `sam3@<rev>`,
    `as_label` for a dir:). The old base tree is `base`, else the one the series names."""
    patches = load_series(series)
    bases = {p.base for p in patches}
    if len(bases) != 1 or None in bases:
        raise PatchError(f"refresh needs one Base-Version (sam3==X or sam3@REV) on every patch, "
                         f"found {sorted(map(str, bases))}")
    if not upstream.startswith(("pypi:", "dir:", "git:")):
        raise PatchError(f"refresh needs --upstream pypi:sam3==X, dir:PATH or git:REPO@REV, got {upstream!r}")
    require_git("refresh (it writes each patch with git diff)")
    old_label = bases.pop()
    assert old_label is not None
    label = source_label(upstream, as_label)
    out = out_dir or series.parent
    base_tree = resolve_source(base or base_source(old_label))
    report = refresh_series(patches, base_tree, resolve_source(upstream), label, out)
    lines = []
    for entry in report.patches:
        lines.append(f"{entry.name}: {entry.status}" + ("  (left out of the series)" if entry.conflict_files else ""))
        if entry.status not in ("clean", "offset"):
            lines += [f"  {note}" for note in entry.notes]
    for path in report.conflicts:
        lines.append(f"conflict left for review: {path}")
    lines.append(f"refreshed series ({old_label} -> {label}) written to {out / 'series'}")
    if report.left_out:
        lines.append(f"RESULT: CONFLICTS ({len(report.left_out)} patches left out: {', '.join(report.left_out)})")
    return lines, 1 if report.conflicts else 0


def cmd_scan(series: Path, upstream: str) -> tuple[list[str], int]:
    """CUDA-specific lines left in the tree after the series (our own added lines excluded)."""
    patches = load_series(series)
    report, result = apply_series(resolve_source(upstream), patches, keep_going=True)
    added: dict[str, set[str]] = {}
    for patch in patches:
        for change in patch.files:
            for hunk in change.hunks:
                added.setdefault(change.path, set()).update(t.strip() for t in hunk.added)
    try:
        findings = uncovered(result, added) if result is not None else []
    finally:
        if result is not None:
            shutil.rmtree(result.parent, ignore_errors=True)
    lines = [str(f) for f in findings]
    lines.append(f"{len(findings)} CUDA-specific lines not covered by any patch hunk")
    return lines, 1 if findings else 0


