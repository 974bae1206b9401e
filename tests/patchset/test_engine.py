"""Whole patches on a tree: new, deleted and renamed files, all-or-nothing, a failed
series leaves the user's tree untouched, already-applied detection."""

import shutil
from pathlib import Path

from npu_compat.patchset.engine import apply_patch, apply_series
from npu_compat.patchset.gitdiff import git_diff
from npu_compat.patchset.series import Patch


def _patch(name: str, diff: str) -> Patch:
    return Patch(name, Path(name), {}, diff)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "tree"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


BEFORE = {"sam3/a.py": "".join(f"a{i}\n" for i in range(20)), "sam3/gone.py": "x\ny\n",
          "sam3/old_name.py": "".join(f"r{i}\n" for i in range(10))}
AFTER = {"sam3/a.py": BEFORE["sam3/a.py"].replace("a5\n", "A5\n"), "sam3/gone.py": None,
         "sam3/new.py": "fresh\n", "sam3/old_name.py": None,
         "sam3/new_name.py": BEFORE["sam3/old_name.py"].replace("r3\n", "R3\n")}


def test_new_deleted_renamed_files_match_git(tmp_path):
    diff = git_diff(dict(BEFORE), dict(AFTER))  # real git: new, deleted, changed files
    root = _tree(tmp_path, BEFORE)
    report = apply_patch(root, _patch("p", diff))
    assert report.status == "exact"
    assert not (root / "sam3/gone.py").exists() and (root / "sam3/new.py").read_text() == "fresh\n"
    assert (root / "sam3/a.py").read_text() == AFTER["sam3/a.py"]
    assert (root / "sam3/new_name.py").read_text() == AFTER["sam3/new_name.py"]


def test_git_rename_header(tmp_path):
    text = BEFORE["sam3/old_name.py"]
    diff = ("diff --git a/sam3/old_name.py b/sam3/new_name.py\nsimilarity index 90%\n"
            "rename from sam3/old_name.py\nrename to sam3/new_name.py\n"
            "--- a/sam3/old_name.py\n+++ b/sam3/new_name.py\n@@ -2,4 +2,4 @@\n r1\n r2\n-r3\n+R3\n r4\n")
    root = _tree(tmp_path, BEFORE)
    report = apply_patch(root, _patch("rename", diff))
    assert report.status == "exact", report
    assert not (root / "sam3/old_name.py").exists()
    assert (root / "sam3/new_name.py").read_text() == text.replace("r3\n", "R3\n")
    again = apply_patch(root, _patch("rename", diff))
    assert again.status == "already-applied"


def test_no_newline_at_end_round_trip(tmp_path):
    before = {"sam3/n.py": "a\nb"}
    after = {"sam3/n.py": "a\nc"}
    diff = git_diff(before, after)
    assert "No newline at end of file" in diff
    root = _tree(tmp_path, before)
    assert apply_patch(root, _patch("nl", diff)).status == "exact"
    assert (root / "sam3/n.py").read_bytes() == b"a\nc"


def test_failed_series_leaves_tree_untouched_and_writes_nothing(tmp_path):
    root = _tree(tmp_path, BEFORE)
    good = _patch("good", git_diff({"sam3/a.py": BEFORE["sam3/a.py"]}, {"sam3/a.py": AFTER["sam3/a.py"]}))
    bad = _patch("bad", git_diff({"sam3/gone.py": "not\nthere\n"}, {"sam3/gone.py": "changed\nthere\n"}))
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    report, out = apply_series(root, [good, bad], out=tmp_path / "patched")
    assert [p.status for p in report.patches] == ["exact", "reject"]
    assert out is None and not (tmp_path / "patched").exists()
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot
    # and a patch with one rejected file writes none of its files
    mixed = _patch("mixed", good.diff + bad.diff)
    assert apply_patch(root, mixed).status == "reject"
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot


def test_successful_series_written_to_out(tmp_path):
    root = _tree(tmp_path, BEFORE)
    good = _patch("good", git_diff({"sam3/a.py": BEFORE["sam3/a.py"]}, {"sam3/a.py": AFTER["sam3/a.py"]}))
    report, out = apply_series(root, [good], out=tmp_path / "patched")
    assert out == tmp_path / "patched" and (out / "sam3/a.py").read_text() == AFTER["sam3/a.py"]
    assert (root / "sam3/a.py").read_text() == BEFORE["sam3/a.py"]


def test_a_file_the_tree_lacks_rejects_and_the_series_goes_on(tmp_path):
    """A series for a newer upstream patches files an older one lacks (SAM 3.1's perflib/fused.py
    on main): every hunk of it rejects, and with keep_going the later patches are still tried,
    so a matrix row can be built instead of stopping at the first missing file."""
    root = _tree(tmp_path, {"sam3/a.py": BEFORE["sam3/a.py"]})
    missing = _patch("0001-new-file-elsewhere.patch",
                     "--- a/sam3/perflib/fused.py\n+++ b/sam3/perflib/fused.py\n@@ -1,2 +1,2 @@\n x\n-y\n+Y\n")
    fine = _patch("0002-a.patch", git_diff({"sam3/a.py": BEFORE["sam3/a.py"]},
                                           {"sam3/a.py": AFTER["sam3/a.py"]}))
    report, tree = apply_series(root, [missing, fine], keep_going=True)
    try:
        first, second = report.patches
        assert first.status == "reject" and "does not exist" in first.files[0].note
        assert second.status == "exact" and (tree / "sam3/a.py").read_text() == AFTER["sam3/a.py"]
        assert not report.applied
    finally:
        shutil.rmtree(tree.parent)
