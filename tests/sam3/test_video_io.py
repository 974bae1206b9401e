"""Frame I/O: cv2 round trip, frame folders, one-line errors, and the no-decoder error with cv2 and
decord both blocked in a subprocess (decord is not installed here)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from npu_compat.sam3.video_io import VideoIOError, frame_paths, pick_backend, read_video, synthetic_video, write_video
from tests.conftest import run_python


def test_mp4_round_trip_keeps_frames_and_size(tmp_path):
    frames = synthetic_video(9, 60, 80, seed=1)
    path = write_video(tmp_path / "a.mp4", frames, fps=12)
    video = read_video(path)
    assert video.backend == "cv2" and video.num_frames == 9 and (video.height, video.width) == (60, 80)
    assert video.fps == pytest.approx(12, abs=0.01)
    assert np.abs(video.frames.astype(int) - frames.astype(int)).mean() < 12  # lossy codec, same picture
    assert not list(tmp_path.glob("*.tmp*")), "atomic write leaves no temp file"


def test_synthetic_shapes_move():
    frames = synthetic_video(8, 96, 128)
    red = [np.argwhere(f[..., 0] > 200)[:, 1].mean() for f in frames]
    assert all(b > a for a, b in zip(red, red[1:]))


def test_frame_folder_sorted_numerically(tmp_path):
    frames = synthetic_video(11, 30, 40)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"{i}.png")
    assert [p.stem for p in frame_paths(tmp_path)] == [str(i) for i in range(11)]
    video = read_video(tmp_path, folder_fps=5)
    assert video.backend == "folder" and video.fps == 5 and np.array_equal(video.frames, frames)


@pytest.mark.parametrize("name,message", [("missing.mp4", "not found"), ("notes.txt", "not a video")])
def test_bad_inputs(tmp_path, name, message):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(VideoIOError, match=message):
        read_video(tmp_path / name)
    with pytest.raises(VideoIOError, match="no image frames"):
        read_video(tmp_path if name.endswith(".txt") else tmp_path.mkdir(exist_ok=True) or tmp_path)


def test_decord_requested_but_missing_names_the_package():
    pytest.importorskip("cv2")
    try:
        import decord  # noqa: F401

        pytest.skip("decord is installed here")
    except ImportError:
        pass
    with pytest.raises(VideoIOError, match="decord"):
        pick_backend("decord")


BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('cv2', 'decord'):
            raise ImportError('blocked for the test: ' + name)
sys.meta_path.insert(0, Block())
from npu_compat.sam3.video_io import read_video
read_video(sys.argv[1])
"""


def test_neither_decoder_gives_one_line_install_hint(tmp_path):
    path = write_video(tmp_path / "b.mp4", synthetic_video(2, 20, 20), fps=4)
    done = run_python("-c", BLOCK, str(path))
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "neither cv2 nor decord" in last and "opencv-python-headless" in last and "decord" in last
