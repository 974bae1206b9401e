"""The applier against `git apply --check -v` on drift scenarios made from real sam3
0.1.4 files: lines inserted above (offset), changed context (fuzz), changed target
lines (reject) and the patch already in (already-applied). Property-based (hypothesis)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npu_compat.patchset.applier import apply_hunks
from npu_compat.patchset.gitdiff import git_diff
from npu_compat.patchset.hunks import parse_diff

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def real_files(sam3_014: Path) -> dict[str, list[str]]:
    files = {}
    for path in sorted((sam3_014 / "sam3").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if len(lines) >= 80:
            files[str(path.relative_to(sam3_014))] = lines
    return files


def _git_check(tmp: Path, rel: str, content: list[str], diff: str, *extra: str) -> tuple[bool, list[int]]:
    """(applies?, offsets git reports) for `git apply --check -v` of diff on content."""
    target = tmp / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(content), encoding="utf-8")
    (tmp / "change.patch").write_text(diff, encoding="utf-8")
    proc = subprocess.run(["git", "apply", "--check", "-v", *extra, "change.patch"], cwd=tmp,
                          capture_output=True, text=True)
    offsets = [int(m) for m in re.findall(r"succeeded at \d+ \(offset (-?\d+) lines?\)", proc.stderr)]
    return proc.returncode == 0, offsets


def _scenario(real_files, data, tmp: Path):
    rel = data.draw(st.sampled_from(sorted(real_files)), label="file")
    lines = real_files[rel]
    index = data.draw(st.integers(10, len(lines) - 10), label="changed line")
    changed = list(lines)
    changed[index] = "    changed_by_patch = True  # drift scenario\n"
    if changed == lines:
        changed[index] = "    changed_by_patch = False\n"
    diff = git_diff({rel: "".join(lines)}, {rel: "".join(changed)})
    [change] = parse_diff(diff)
    return rel, lines, changed, index, diff, change.hunks


def _run(tmp_path_factory, data, real_files, drift):
    tmp = tmp_path_factory.mktemp("drift")
    rel, lines, changed, index, diff, hunks = _scenario(real_files, data, tmp)
    target = drift(data, lines, changed, index)
    ours = apply_hunks(target, hunks)
    git_ok, git_offsets = _git_check(tmp, rel, target, diff)
    git_reverse_ok, _ = _git_check(tmp, rel, target, diff, "-R")
    return ours, git_ok, git_offsets, git_reverse_ok, target, hunks, tmp, rel, diff


@SETTINGS
@given(data=st.data())
def test_inserted_lines_above_give_the_offset_git_reports(tmp_path_factory, real_files, data):
    def drift(data, lines, changed, index):
        count = data.draw(st.integers(1, 25), label="inserted lines")
        where = data.draw(st.integers(0, index - 4), label="insert at")
        return lines[:where] + [f"# inserted upstream {i}\n" for i in range(count)] + lines[where:]
    ours, git_ok, git_offsets, _, *_ = _run(tmp_path_factory, data, real_files, drift)
    [result] = ours.hunks
    assert git_ok and result.status in ("offset", "exact")
    assert [result.offset] == (git_offsets or [0])


def _verdicts(ours, git_ok: bool, git_reverse_ok: bool) -> tuple[str, str]:
    states = {h.status for h in ours.hunks}
    mine = "applies" if states <= {"exact", "offset"} else "already" if states == {"already-applied"} else "reject"
    theirs = "applies" if git_ok else "already" if git_reverse_ok else "reject"
    return mine, theirs


def _occurs(lines: list[str], block: list[str]) -> bool:
    return any(lines[i:i + len(block)] == block for i in range(len(lines) - len(block) + 1))


def _aligned(hunks, index: int) -> bool:
    """The diff put its change on the line we edited (not on an identical neighbour)."""
    [hunk] = hunks
    return hunk.old_start - 1 + hunk.leading == index


@SETTINGS
@given(data=st.data())
def test_changed_context_rejects_strict_and_fuzzes_like_git_C(tmp_path_factory, real_files, data):
    def drift(data, lines, changed, index):
        target = list(lines)
        target[index - 3] = "# upstream rewrote this context line\n"  # outermost leading context
        return target
    ours, git_ok, _, git_reverse_ok, target, hunks, tmp, rel, diff = _run(tmp_path_factory, data, real_files, drift)
    mine, theirs = _verdicts(ours, git_ok, git_reverse_ok)
    assert mine == theirs
    fuzzy = apply_hunks(target, hunks, fuzz=1)
    git_fuzzy_ok, _ = _git_check(tmp, rel, target, diff, "-C2")
    assert git_fuzzy_ok == all(h.status in ("exact", "offset", "fuzz") for h in fuzzy.hunks)
    edited = target.index("# upstream rewrote this context line\n") + 3
    unique = not _occurs(target, hunks[0].old_lines) and not _occurs(target, hunks[0].new_lines)
    if _aligned(hunks, edited) and hunks[0].leading == 3 and unique:
        assert mine == "reject" and [h.status for h in fuzzy.hunks] == ["fuzz"] and fuzzy.hunks[0].fuzz == 1


@SETTINGS
@given(data=st.data())
def test_changed_target_line_rejects_like_git(tmp_path_factory, real_files, data):
    def drift(data, lines, changed, index):
        target = list(lines)
        target[index] = "    upstream_changed_the_same_line = 1\n"
        return target
    ours, git_ok, _, git_reverse_ok, target, hunks, *_ = _run(tmp_path_factory, data, real_files, drift)
    mine, theirs = _verdicts(ours, git_ok, git_reverse_ok)
    assert mine == theirs
    if not _occurs(target, hunks[0].old_lines) and not _occurs(target, hunks[0].new_lines):
        assert mine == "reject"


@SETTINGS
@given(data=st.data())
def test_patch_already_in_is_detected_like_git_reverse(tmp_path_factory, real_files, data):
    def drift(data, lines, changed, index):
        return list(changed)
    ours, git_ok, _, git_reverse_ok, target, *_ = _run(tmp_path_factory, data, real_files, drift)
    mine, theirs = _verdicts(ours, git_ok, git_reverse_ok)
    assert mine == theirs
    if not git_ok:  # (a file with a repeated block can still take the patch forward)
        assert mine == "already" and ours.lines == target  # nothing changed
