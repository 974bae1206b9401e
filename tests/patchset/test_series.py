"""The committed series: valid headers, and it applies to the real sam3 0.1.4 wheel in
order with `git apply` and `patch -p1`, zero offset and zero fuzz, like our applier."""

import shutil
import subprocess

from npu_compat.patchset.engine import apply_series
from npu_compat.patchset.series import header_problems, load_series, render_patch, split_header




def test_every_patch_has_the_required_header(series_patches):
    assert len(series_patches) >= 2
    for patch in series_patches:
        assert header_problems(patch.header) == [], patch.name
        assert patch.base_version == "0.1.4"
    assert "train" in series_patches[-1].name  # training-side changes come last, on their own
    assert all("sam3/train/" not in f.path for p in series_patches[:-1] for f in p.files)


def test_header_round_trip():
    text = render_patch({"Description": "d", "Base-Version": "sam3==0.1.4", "Upstream-Status": "Pending",
                         "Reason": "r"}, "--- a/x\n+++ b/x\n")
    header, diff = split_header(text)
    assert header["Upstream-Status"] == "Pending" and diff == "--- a/x\n+++ b/x\n"
    assert header_problems({**header, "Upstream-Status": "Maybe"})


def test_series_applies_exactly_with_git_apply_patch_and_ours(sam3_014, series_patches, tmp_path):
    with_git, with_patch = tmp_path / "git", tmp_path / "patch"
    for tree in (with_git, with_patch):
        shutil.copytree(sam3_014 / "sam3", tree / "sam3")
    for patch in series_patches:
        proc = subprocess.run(["git", "apply", "-v", str(patch.path)], cwd=with_git, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "offset" not in proc.stderr and "fuzz" not in proc.stderr.lower()
        proc = subprocess.run(["patch", "-p1", "--fuzz=0", "-i", str(patch.path)], cwd=with_patch,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "offset" not in proc.stdout and "fuzz" not in proc.stdout
    report, ours = apply_series(sam3_014, series_patches)
    try:
        assert [p.status for p in report.patches] == ["exact"] * len(series_patches)
        for path in (ours / "sam3").rglob("*.py"):
            rel = path.relative_to(ours)
            assert path.read_bytes() == (with_git / rel).read_bytes() == (with_patch / rel).read_bytes(), rel
    finally:
        shutil.rmtree(ours.parent)


def test_load_series_skips_comments(tmp_path):
    (tmp_path / "a.patch").write_text("Description: x\n---\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n")
    (tmp_path / "series").write_text("# comment\n\na.patch  # trailing\n")
    [patch] = load_series(tmp_path / "series")
    assert patch.name == "a.patch" and patch.files[0].path == "f"
