"""npu_compat.bench.counts: per video frame, per video model version, upstream's functions and the kit's
sync rules (the tiny model of the installed sam3; SAM 3.1's rows need its tree, see docs/video.md)."""
from __future__ import annotations

from npu_compat.bench.counts import count_video_versions
from npu_compat.bench.video_fps import synthetic_clip
from npu_compat.workloads.video_run import build_predictor


def test_video_rows_before_and_after_the_sync_rules(shim_cpu, tmp_path):
    clip = synthetic_clip(tmp_path, 3, 60, 80)
    rows = count_video_versions(lambda v: build_predictor("tiny", None, 0, version=v), str(clip), 3, ["sam3"])
    assert [r["name"] for r in rows] == ["upstream video: propagation (before)", "upstream video: propagation"]
    before, after = rows
    assert before["unit"] == after["unit"] == "frame"
    assert after["ops"] > 0 and before["ops"] > 0
    assert after["syncs"] <= before["syncs"], "the sync rules never add host syncs"
