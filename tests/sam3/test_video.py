"""The SAM3 video path on the cpu target through the shim, with an unmodified CUDA-style script.

The script (tests/sam3/data/video_user_script.py) uses upstream's Sam3VideoPredictor request
API: start_session on a synthetic mp4 (moving shapes written with cv2), a text prompt on frame 0,
propagate, a point prompt, remove an object, reset and close. The tiny model has random weights,
so the checks are on structure and plumbing, not on what is segmented.
"""
from __future__ import annotations

import json

import pytest

from npu_compat.sam3.video_io import synthetic_video, write_video
from tests.conftest import ROOT, run_python

SCRIPT = ROOT / "tests" / "sam3" / "data" / "video_user_script.py"
NUM_FRAMES, HEIGHT, WIDTH = 8, 96, 128
OUTPUT_KEYS = ["frame_stats", "out_binary_masks", "out_boxes_xywh", "out_obj_ids", "out_probs"]


def _check_outputs(summary: dict) -> None:
    n = len(summary["ids"])
    assert summary["keys"] == OUTPUT_KEYS
    assert summary["probs_len"] == n and summary["boxes_shape"] == [n, 4]
    assert summary["masks_shape"] == [n, HEIGHT, WIDTH] and summary["masks_dtype"] == "bool"


def _run(tmp_path, *extra: str, env: dict | None = None, timeout: int = 600):
    video = write_video(tmp_path / "clip.mp4", synthetic_video(NUM_FRAMES, HEIGHT, WIDTH), fps=8)
    out, report = tmp_path / "out.json", tmp_path / "report.json"
    done = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), "--",
                      str(SCRIPT), str(video), str(out), *extra, env=env, timeout=timeout)
    assert done.returncode == 0 and "VIDEO_SCRIPT_DONE" in done.stdout, done.stderr[-4000:]
    return json.loads(out.read_text()), json.loads(report.read_text()), done


def _check_run(data: dict, report: dict) -> None:
    assert data["device_index"] == 0
    assert data["autocast_after_build"] is False, "the tracker's process-wide autocast must be gone"
    assert data["autocast_between_steps"] and not any(data["autocast_between_steps"])
    assert data["text_frame"] == 0 and data["point_frame"] == 2
    _check_outputs(data["text"])
    _check_outputs(data["point"])
    assert sorted(int(k) for k in data["frames"]) == list(range(NUM_FRAMES))
    for summary in data["frames"].values():
        _check_outputs(summary)
    assert len(data["after_point"]) == NUM_FRAMES - 2 == len(data["after_remove"])
    assert all(data["removed_id"] not in ids for ids in data["after_remove"])
    assert data["removed"] == data["reset"] == data["closed"] == {"is_success": True}
    assert data["memory"]["max_allocated"] >= data["memory"]["allocated"] > 0
    rules = {r["key"]: r["status"] for r in report["rules"]}
    for key in ("sam3.video.bf16_scope", "sam3.video.bf16_scope.add_prompt", "sam3.video.bf16_scope.propagate_in_video",
                "sam3.video.offload_frames", "device.Module.cuda", "cuda.current_device"):
        assert rules.get(key) == "installed", key
    fired = {c["rule"] for c in report["calls"]}
    assert {"cuda.current_device", "sam3.video.offload_frames", "cuda.memory_allocated"} <= fired


def test_tiny_video_session_under_the_shim(tmp_path):
    data, report, done = _run(tmp_path)
    _check_run(data, report)
    assert "host memory (process RSS):" in done.stderr and "GPU memory" not in done.stderr, done.stderr[-3000:]
    assert data["point"]["ids"], "the point prompt's frame shows objects"
    assert data["removed_id"] in data["after_point"][0], "the removed object was visible before removal"


@pytest.mark.slow
def test_full_size_video_session_random_weights(tmp_path):
    """Upstream's build_sam3_video_predictor (840M+ parameters, random weights, no download)."""
    data, report, done = _run(tmp_path, "--full", env={"NPU_COMPAT_SAM3_RANDOM_INIT": "1"}, timeout=3600)
    assert "RANDOM WEIGHTS" in done.stderr
    _check_run(data, report)
    assert "sam3.video.random_init" in {c["rule"] for c in report["calls"]}


# ---- the rows' factories, called directly with a real session's context ---------------------
def _rule(key: str):
    from npu_compat.patcher import Category, Rule

    return Rule(key, "x", "y", lambda *a: None, Category.MODIFIED, "test")


def test_scoped_autocast_only_inside_each_step(shim_cpu):
    import torch

    from npu_compat.sam3.video import scoped_generator, scoped_method

    seen = []

    def steps(n):
        for i in range(n):
            seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
            yield torch.ones(2, 2) @ torch.ones(2, 2)

    wrapped = scoped_generator(shim_cpu.patcher.ctx, _rule("g"), steps)
    between = []
    for out in wrapped(3):
        between.append(torch.is_autocast_enabled("cpu"))
        assert out.dtype == torch.bfloat16  # the matmul ran under bf16 autocast
    assert seen == [(True, torch.bfloat16)] * 3 and between == [False] * 3
    early = wrapped(5)
    next(early)
    early.close()  # closing the wrapper closes upstream's generator too
    assert not torch.is_autocast_enabled("cpu")
    method = scoped_method(shim_cpu.patcher.ctx, _rule("m"), lambda: torch.is_autocast_enabled("cpu"))
    assert method() is True and not torch.is_autocast_enabled("cpu")


def test_session_log_says_what_its_memory_numbers_measure(shim_cpu):
    import types

    from sam3.model.sam3_video_predictor import Sam3VideoPredictor

    from npu_compat.sam3.video import memory_label
    from npu_compat.target import CAPABILITIES, Target

    stats = Sam3VideoPredictor._get_session_stats(types.SimpleNamespace(_ALL_INFERENCE_STATES={}))
    assert "GPU memory" not in stats, stats
    used = int(stats.split("host memory (process RSS): ", 1)[1].split()[0])
    assert used > 0, stats  # the process RSS in MiB, as the cuda.memory_* rows answer on cpu
    assert {r["key"]: r["status"] for r in shim_cpu.report.as_dict()["rules"]}["sam3.video.memory_label"] == "installed"
    assert memory_label(Target("npu", 1, CAPABILITIES["npu"])) == "NPU memory (npu:1):"


def test_offload_default_true_explicit_kept(shim_cpu):
    from npu_compat.sam3.video import _offload_frames

    calls = []

    def init_state(self, resource_path, offload_video_to_cpu=False, async_loading_frames=False, video_loader_type="cv2"):
        calls.append(offload_video_to_cpu)

    wrapped = _offload_frames(shim_cpu.patcher.ctx, _rule("o"), init_state)
    wrapped(None, "v.mp4")
    wrapped(None, "v.mp4", False)
    wrapped(None, "v.mp4", offload_video_to_cpu=False, video_loader_type="cv2")
    assert calls == [True, False, False]


def test_random_init_avoids_download_only_when_asked(shim_cpu, monkeypatch, capsys):
    import torch

    from npu_compat.sam3.video import RANDOM_INIT_ENV, _video_random_init

    calls = []

    class Text(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.positional_embedding = torch.nn.Parameter(torch.zeros(4, 3))
            self.text_projection = torch.nn.Parameter(torch.zeros(3, 3))

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.language_backbone = torch.nn.Module()
            self.language_backbone.encoder = Text()

    def build_sam3_video_model(checkpoint_path=None, load_from_HF=True, bpe_path=None):
        calls.append((checkpoint_path, load_from_HF))
        return Model()

    wrapped = _video_random_init(shim_cpu.patcher.ctx, _rule("r"), build_sam3_video_model)
    monkeypatch.delenv(RANDOM_INIT_ENV, raising=False)
    wrapped()  # upstream behaviour: would download
    wrapped(checkpoint_path="sam3.pt")
    assert calls == [(None, True), ("sam3.pt", True)] and "RANDOM WEIGHTS" not in capsys.readouterr().err
    model = wrapped(load_from_HF=False)
    assert calls[-1] == (None, False) and "RANDOM WEIGHTS" in capsys.readouterr().err
    assert model.language_backbone.encoder.positional_embedding.abs().sum() > 0
    monkeypatch.setenv(RANDOM_INIT_ENV, "1")
    wrapped()
    assert calls[-1] == (None, False)
