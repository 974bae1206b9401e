"""refresh against a synthetic "next release": 0.1.4 with upstream edits near patched lines."""

import shutil
import subprocess
from pathlib import Path

import pytest

from npu_compat.patchset.engine import apply_series
from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.matrix import build_matrix
from npu_compat.patchset.refresh import refresh_series
from npu_compat.patchset.series import header_problems, load_series, series_names
from npu_compat.patchset.verify import cmd_check, cmd_refresh
from tests.patchset.conftest import SERIES


def _next_release(sam3_014: Path, tmp_path: Path) -> Path:
    nxt = tmp_path / "next"
    shutil.copytree(sam3_014, nxt)
    # lines inserted above patched code (offsets)
    builder = nxt / "sam3" / "model_builder.py"
    text = builder.read_text()
    builder.write_text(text.replace("import os\n", "import os\nimport sys  # new upstream import\n\n# upstream note\n", 1))
    # an edit right next to a patched line (context change: git apply and strict apply reject)
    pe = nxt / "sam3" / "model" / "position_encoding.py"
    text = pe.read_text()
    old = "                (precompute_resolution // 32, precompute_resolution // 32),\n"
    assert old in text
    pe.write_text(text.replace(old, old[:-1] + "  # upstream: stride 4..32\n", 1))
    # the psutil change already made upstream (patch 0002's change is upstreamed)
    vp = nxt / "sam3" / "model" / "sam3_video_predictor.py"
    text = vp.read_text()
    vp.write_text(text.replace("import psutil\nimport torch\n", "import torch\n", 1).replace(
        "                if not psutil.pid_exists(parent_pid):",
        "                import psutil  # only multi-GPU workers need it; keep `import sam3` light\n\n"
        "                if not psutil.pid_exists(parent_pid):", 1))
    return nxt


def test_refresh_then_patches_apply_exactly(sam3_014, series_patches, tmp_path):
    nxt = _next_release(sam3_014, tmp_path)
    before, work = apply_series(nxt, series_patches, keep_going=True)
    shutil.rmtree(work.parent)
    assert {p.status for p in before.patches} >= {"reject"}  # the edit near 0003 breaks a strict apply
    out = tmp_path / "refreshed"
    report = refresh_series(series_patches, sam3_014, nxt, "sam3==0.1.5.dev0", out)
    by_name = {p.name.split("-", 1)[0]: p.status for p in report.patches}
    assert by_name["0002"] == "upstreamed" and by_name["0003"] == "merged"
    assert report.conflicts == []
    refreshed = load_series(out / "series")
    assert all(p.header["Base-Version"] == "sam3==0.1.5.dev0" for p in refreshed)
    assert "0002-lazy-psutil-import.patch" not in [p.name for p in refreshed]
    after, work = apply_series(nxt, refreshed)
    try:
        assert [p.status for p in after.patches] == ["exact"] * len(refreshed)
        assert "upstream: stride 4..32" in (work / "sam3/model/position_encoding.py").read_text()
        assert 'device="cpu"' in (work / "sam3/model/position_encoding.py").read_text()
    finally:
        shutil.rmtree(work.parent)


def test_refresh_leaves_conflicts_for_a_human(sam3_014, series_patches, tmp_path):
    nxt = tmp_path / "next"
    shutil.copytree(sam3_014, nxt)
    proc = nxt / "sam3" / "model" / "sam3_image_processor.py"
    text = proc.read_text()
    old = 'device="cuda", confidence_threshold=0.5'
    assert old in text
    proc.write_text(text.replace(old, 'device="cuda:0", confidence_threshold=0.4', 1))
    report = refresh_series(series_patches, sam3_014, nxt, "sam3==0.1.5.dev0", tmp_path / "out")
    conflicted, *later = [p for p in report.patches if p.conflict_files]
    assert conflicted.name.startswith("0005") and conflicted.status.startswith("conflict(")
    # 0009 edits what 0005 changed: without 0005 it cannot merge either, and says why
    assert [p.name[:4] for p in later] == ["0009"]
    assert any("left-out 0005" in note for note in later[0].notes)
    marker_file = conflicted.conflict_files[0]
    assert marker_file.is_relative_to(tmp_path / "out" / "conflicts")
    assert "<<<<<<<" in marker_file.read_text() and ">>>>>>>" in marker_file.read_text()


def _edit(tree: Path, rel: str, old: str, new: str) -> None:
    path = tree / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1))


def _conflicting_release(sam3_014: Path, tmp_path: Path, name: str = "next") -> Path:
    """0.1.4 with the line patch 0005 changes edited differently upstream (no merge can decide)."""
    nxt = tmp_path / name
    shutil.copytree(sam3_014, nxt)
    _edit(nxt, "sam3/model/sam3_image_processor.py", 'device="cuda", confidence_threshold=0.5',
          'device="cuda:0", confidence_threshold=0.4')
    return nxt


def test_a_conflicted_patch_is_left_out_and_the_rest_checks_clean(sam3_014, tmp_path):
    nxt = _conflicting_release(sam3_014, tmp_path)
    out = tmp_path / "out"
    lines, code = cmd_refresh(SERIES, f"dir:{nxt}", out, as_label="sam3==0.1.5.dev0")
    assert code == 1 and any(line.startswith("RESULT: CONFLICTS") and "0005" in line for line in lines)
    name = "0005-processor-and-builders-follow-device.patch"
    assert not (out / name).exists(), "a conflicted patch must not be written as if clean"
    assert name not in series_names(out / "series") and f"# {name}  LEFT OUT" in (out / "series").read_text()
    assert (out / "conflicts" / name / name).read_text() == (SERIES.parent / name).read_text()
    marked = (out / "conflicts" / name / "sam3/model/sam3_image_processor.py").read_text()
    assert marked.count("<<<<<<< ") == 1 and "conflict(1)" in "\n".join(lines)  # each region counted once
    # every patch that was written passes `check` on the new release
    check_lines, check_code = cmd_check(out / "series", f"dir:{nxt}")
    assert check_code == 0, "\n".join(check_lines)
    assert all(p.header["Base-Version"] == "sam3==0.1.5.dev0" for p in load_series(out / "series"))
    with pytest.raises(PatchError, match="conflicts"):  # a second run does not overwrite the human's work
        cmd_refresh(SERIES, f"dir:{nxt}", out, as_label="sam3==0.1.5.dev0")


def test_base_version_is_real_for_every_source_so_a_second_refresh_works(sam3_014, tmp_path):
    nxt = _next_release(sam3_014, tmp_path)
    with pytest.raises(PatchError, match="--as"):
        cmd_refresh(SERIES, f"dir:{nxt}", tmp_path / "first")
    # a git source names its commit
    repo = tmp_path / "repo"
    shutil.copytree(nxt, repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "next"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    _, code = cmd_refresh(SERIES, f"git:{repo}@HEAD", tmp_path / "first")
    assert code == 0
    first = load_series(tmp_path / "first" / "series")
    assert {p.header["Base-Version"] for p in first} == {f"sam3@{sha[:7]}"}
    assert all(header_problems(p.header) == [] for p in first)
    # second refresh: the base is a git revision, given as --base; the new tree is a dir: with --as
    nxt2 = tmp_path / "next2"
    shutil.copytree(nxt, nxt2)
    _edit(nxt2, "sam3/model_builder.py", "import os\n", "import os\nimport json  # another upstream import\n")
    with pytest.raises(PatchError, match="--base"):
        cmd_refresh(tmp_path / "first" / "series", f"dir:{nxt2}", tmp_path / "second", as_label="sam3==0.1.6")
    lines, code = cmd_refresh(tmp_path / "first" / "series", f"dir:{nxt2}", tmp_path / "second",
                              as_label="sam3==0.1.6", base=f"dir:{nxt}")
    assert code == 0, lines
    second = load_series(tmp_path / "second" / "series")
    assert {p.header["Base-Version"] for p in second} == {"sam3==0.1.6"}
    assert cmd_check(tmp_path / "second" / "series", f"dir:{nxt2}", import_check=False)[1] == 0


def test_mixed_hunks_are_reported_per_hunk_in_check_matrix_and_refresh(sam3_014, series_patches, tmp_path):
    """Upstream took the first hunk of 0003's decoder change but not the second."""
    nxt = tmp_path / "next"
    shutil.copytree(sam3_014, nxt)
    _edit(nxt, "sam3/model/decoder.py", '''                coords_h, coords_w = self._get_coords(
                    feat_size, feat_size, device="cuda"
                )''', '''                # built on the host; _get_rpb_matrix moves them to the boxes' device
                coords_h, coords_w = self._get_coords(
                    feat_size, feat_size, device="cpu"
                )''')
    lines, code = cmd_check(SERIES, f"dir:{nxt}", import_check=False)
    assert code == 1
    [verdict] = [line for line in lines if line.startswith("0003-")]
    assert verdict.startswith("0003-device-following-caches.patch: mixed (1 of 6 hunks already present")
    assert "  sam3/model/decoder.py: #1 already-applied, #2 exact" in lines
    matrix = build_matrix(series_patches, ["0.1.5.dev0"], lambda version: nxt)
    row = matrix["versions"]["0.1.5.dev0"]
    assert row["patches"]["0003-device-following-caches.patch"] == "mixed(1/6 already)" and row["result"] == "fail"
    out = tmp_path / "out"
    report = refresh_series(series_patches, sam3_014, nxt, "sam3==0.1.5.dev0", out)
    [entry] = [p for p in report.patches if p.name.startswith("0003")]
    assert entry.status == "partly-upstreamed" and "sam3/model/decoder.py: #1 already-applied, #2 exact" in entry.notes
    refreshed = (out / entry.name).read_text()
    assert 'device="cpu"' not in refreshed.split("position_encoding.py")[0]  # the present hunk dropped out
    assert cmd_check(out / "series", f"dir:{nxt}", import_check=False)[1] == 0
