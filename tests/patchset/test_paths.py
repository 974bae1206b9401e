"""Malicious patches: `..`, absolute paths and symlink escapes are refused before any write."""

import os
from pathlib import Path

import pytest

from npu_compat.patchset.engine import apply_patch, apply_series
from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.paths import resolve_inside
from npu_compat.patchset.series import Patch


def _patch(diff: str) -> Patch:
    return Patch("evil.patch", Path("evil.patch"), {}, diff)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


GOOD_FIRST = ("--- a/sam3/ok.txt\n+++ b/sam3/ok.txt\n@@ -1 +1 @@\n-old\n+new\n")


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "sam3").mkdir(parents=True)
    (root / "sam3" / "ok.txt").write_text("old\n")
    return root


@pytest.mark.parametrize("evil_path, words", [
    ("a/../outside.txt", "leaves the tree"),
    ("a/sam3/../../outside.txt", "leaves the tree"),
    ("/tmp/outside.txt", "absolute"),
])
def test_traversal_refused_and_nothing_written(tmp_path, evil_path, words):
    root = _tree(tmp_path)
    target = evil_path if evil_path.startswith("/") else "b/" + evil_path[2:]
    evil = GOOD_FIRST + f"--- /dev/null\n+++ {target}\n@@ -0,0 +1 @@\n+pwned\n"
    before = _snapshot(tmp_path)
    with pytest.raises(PatchError, match=words) as err:
        apply_patch(root, _patch(evil))
    assert "\n" not in str(err.value)
    assert _snapshot(tmp_path) == before  # not even the good first file changed
    assert not (tmp_path / "outside.txt").exists()


def test_symlink_escape_refused_and_nothing_written(tmp_path):
    root = _tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.py").write_text("keep\n")
    os.symlink(outside, root / "sam3" / "link")
    evil = GOOD_FIRST + "--- a/sam3/link/victim.py\n+++ b/sam3/link/victim.py\n@@ -1 +1 @@\n-keep\n+pwned\n"
    with pytest.raises(PatchError, match="symlink"):
        apply_patch(root, _patch(evil))
    assert (outside / "victim.py").read_text() == "keep\n"
    assert (root / "sam3" / "ok.txt").read_text() == "old\n"
    # through a series on a copy, too: the user's tree stays as it was
    with pytest.raises(PatchError, match="symlink"):
        apply_series(root, [_patch(evil)], out=tmp_path / "out")
    assert (outside / "victim.py").read_text() == "keep\n" and not (tmp_path / "out").exists()


def test_resolve_inside_accepts_plain_paths(tmp_path):
    root = _tree(tmp_path)
    assert resolve_inside(root, "sam3/ok.txt") == Path(os.path.realpath(root)) / "sam3/ok.txt"
