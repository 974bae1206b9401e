"""The series for sam3 main at 99d02f2, on a snapshot of main ($SAM3_MAIN_SRC; skips without it).

`check` is exact; unmodified main runs the tiny video session and (slow) the full-size image
demo under the shim on the cpu target. The tiny image path, patched vs under the shim, is in
test_series_matches_shim.py."""

import json
import os

import pytest

from npu_compat.patchset.verify import cmd_check
from tests.conftest import ROOT, run_python
from tests.patchset.conftest import MAIN_SERIES

VIDEO_SCRIPT = ROOT / "tests" / "sam3" / "data" / "video_user_script.py"


def _main_env(sam3_main) -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(sam3_main), str(ROOT)]), "CUDA_VISIBLE_DEVICES": ""}


def test_check_of_the_main_series_is_exact(sam3_main):
    lines, code = cmd_check(MAIN_SERIES, f"dir:{sam3_main}")
    assert code == 0, "\n".join(lines)
    verdicts = [line.split(": ", 1)[1] for line in lines if ".patch: " in line and not line.startswith(" ")]
    assert verdicts and set(verdicts) == {"exact"}, verdicts
    assert "import sam3 (CPU torch, triton and decord blocked): ok" in lines


def test_the_014_series_does_not_fit_main(sam3_main, series_patches):
    """The reason the main series exists: 0.1.4's patches reject on main."""
    lines, code = cmd_check(ROOT / "patches" / "series", f"dir:{sam3_main}", import_check=False)
    rejected = {line.split("-", 1)[0] for line in lines if line.endswith(": reject") and not line.startswith(" ")}
    assert code == 1 and {"0001", "0006", "0010"} <= rejected


def test_unmodified_main_tiny_video_under_the_shim(sam3_main, tmp_path):
    from npu_compat.sam3.video_io import synthetic_video, write_video

    video = write_video(tmp_path / "clip.mp4", synthetic_video(8, 96, 128), fps=8)
    out, report = tmp_path / "out.json", tmp_path / "report.json"
    done = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), "--",
                      str(VIDEO_SCRIPT), str(video), str(out), env=_main_env(sam3_main), timeout=600)
    assert done.returncode == 0 and "VIDEO_SCRIPT_DONE" in done.stdout, done.stderr[-3000:]
    data = json.loads(out.read_text())
    assert sorted(int(k) for k in data["frames"]) == list(range(8))
    assert data["closed"] == {"is_success": True}
    fired = {c["rule"] for c in json.loads(report.read_text())["calls"]}
    assert "sam3.scoped_imports.sam3.model_builder" in fired  # main's pkg_resources import got the stand-in


@pytest.mark.slow
def test_unmodified_main_full_size_image_under_the_shim(sam3_main, tmp_path):
    """Upstream main's build_sam3_image_model (840M parameters, random weights, BPE from sam3/assets)."""
    done = run_python("-m", "npu_compat.apply", "--device", "cpu", "--log-level", "quiet", "--",
                      str(ROOT / "tools" / "sam3_demo.py"), "--dtype", "fp32", "--threshold", "0.0",
                      "--out", str(tmp_path), env=_main_env(sam3_main), timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["device"] == "cpu" and len(result["text"]["scores"]) > 0


def test_apply_writes_a_main_tree_that_runs_on_cpu_without_the_shim(sam3_main, tmp_path):
    from npu_compat.patchset.checks import tiny_cpu_run
    from npu_compat.patchset.verify import cmd_apply

    lines, code = cmd_apply(MAIN_SERIES, f"dir:{sam3_main}", tmp_path / "patched")
    assert code == 0, lines
    assert tiny_cpu_run(tmp_path / "patched") is None  # model.to("cpu"), Sam3Processor(model), no shim
    assert tiny_cpu_run(sam3_main) is not None  # control: unmodified main does not even import


def test_the_0009_fix_is_carried_into_main(sam3_main, main_series_patches, tmp_path):
    """The same check as for 0.1.4 (a torch_npu TEST DOUBLE; see test_npu_runtime_patch.py), on patched main."""
    import shutil

    from npu_compat.patchset.engine import apply_series
    from tests.patchset.test_npu_runtime_patch import (
        test_patched_builder_applies_npu_settings_for_a_device_string as check_npu_settings)

    report, tree = apply_series(sam3_main, main_series_patches)
    try:
        assert report.applied
        check_npu_settings(tree, tmp_path)
    finally:
        shutil.rmtree(tree.parent)
