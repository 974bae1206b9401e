"""The tiny SAM3 video path (text prompt, then a point on a later frame) on the simulated npu (a
test double of the Ascend stack). Minutes on 2 cores (every op goes through Python), so slow."""
import json

import pytest

from npu_compat.sam3.video_io import synthetic_video, write_video
from tests.conftest import ROOT, run_python
from tests.sim.conftest import SIM

TOOL = ROOT / "tools" / "sam3_video.py"


@pytest.mark.slow
def test_tiny_video_runs_on_the_simulated_npu(tmp_path):
    frames = 4
    video = write_video(tmp_path / "clip.mp4", synthetic_video(frames, 72, 96), fps=4)
    out = tmp_path / "out"
    done = run_python(str(TOOL), str(video), "--model", "tiny", "--device", "npu", "--simulate", SIM,
                      "--text", "shape", "--point", "2:48,30", "--out", str(out), timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "device npu" in done.stdout
    assert "simulated npu (torch_npu 2.7.1.post2)" in done.stderr  # torch_npu's fallback warnings say so
    data = json.loads((out / "frames.json").read_text())
    assert [f["frame_index"] for f in data["frames"]] == list(range(frames))
    assert sum(len(f["objects"]) for f in data["frames"]) > 0
