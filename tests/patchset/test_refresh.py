"""refresh against a synthetic "next release": 0.1.4 with upstream edits near patched lines."""

import shutil
from pathlib import Path

from npu_compat.patchset.engine import apply_series
from npu_compat.patchset.refresh import refresh_series
from npu_compat.patchset.series import load_series


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
    [conflicted] = [p for p in report.patches if p.conflict_files]
    assert conflicted.name.startswith("0005") and conflicted.status.startswith("conflict(")
    marker_file = conflicted.conflict_files[0]
    assert marker_file.is_relative_to(tmp_path / "out" / "conflicts")
    assert "<<<<<<<" in marker_file.read_text() and ">>>>>>>" in marker_file.read_text()
