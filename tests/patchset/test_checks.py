"""Post-apply checks: compile, duplicate inserts (what fuzz causes), import without triton."""

import shutil
from pathlib import Path

from npu_compat.patchset.applier import apply_hunks
from npu_compat.patchset.checks import compile_errors, duplicate_inserts, import_without_triton
from npu_compat.patchset.engine import apply_patch, apply_series
from npu_compat.patchset.gitdiff import git_diff
from npu_compat.patchset.series import Patch


def test_import_fails_on_pristine_and_succeeds_on_patched(sam3_014, series_patches):
    assert "triton" in (import_without_triton(sam3_014) or "")  # upstream 0.1.4 needs triton
    report, tree = apply_series(sam3_014, series_patches)
    try:
        assert import_without_triton(tree) is None
    finally:
        shutil.rmtree(tree.parent)


def test_compile_errors_name_the_file(tmp_path):
    (tmp_path / "sam3").mkdir()
    (tmp_path / "sam3" / "good.py").write_text("x = 1\n")
    (tmp_path / "sam3" / "bad.py").write_text("def f(:\n")
    problems = compile_errors(tmp_path, ["sam3/good.py", "sam3/bad.py"])
    assert len(problems) == 1 and problems[0].startswith("sam3/bad.py:1")


def test_fuzzy_apply_duplicate_insert_is_caught(tmp_path):
    """Upstream already added the line a few lines away; a fuzz-1 apply inserts it again."""
    base = [f"line_{i} = {i}\n" for i in range(30)]
    ours = base[:15] + ["import_device_guard_here()\n"] + base[15:]
    diff = git_diff({"sam3/m.py": "".join(base)}, {"sam3/m.py": "".join(ours)})
    upstream = base[:13] + ["import_device_guard_here()\n", "# moved\n"] + base[13:]
    upstream[12] = "line_12 = 'changed upstream'\n"
    upstream[19] = "line_17 = 'changed upstream'\n"
    root = tmp_path / "tree"
    (root / "sam3").mkdir(parents=True)
    (root / "sam3" / "m.py").write_text("".join(upstream))
    patch = Patch("dup.patch", Path("dup.patch"), {}, diff)
    assert [h.status for h in apply_hunks(upstream, patch.files[0].hunks).hunks] == ["reject"]
    report = apply_patch(root, patch, fuzz=1)
    assert report.status == "fuzz"
    problems = duplicate_inserts(root, patch, report)
    assert problems and "import_device_guard_here()" in problems[0] and "2x" in problems[0]


def test_clean_series_has_no_duplicate_inserts(sam3_014, series_patches):
    problems = []
    report, tree = apply_series(sam3_014, series_patches,
                                after_patch=lambda t, p, r: problems.extend(duplicate_inserts(t, p, r)))
    shutil.rmtree(tree.parent)
    assert problems == []
