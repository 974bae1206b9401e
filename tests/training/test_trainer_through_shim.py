"""sam3's own trainer (``sam3/train/train.py``, unmodified) on the tiny sample set through the shim, cpu target.

Each run is a real subprocess: ``python -m npu_compat.apply --device cpu -m sam3.train.train
-c configs/skimage_sample/tiny_ft.yaml --use-cluster 0 --num-gpus 1`` (the config is found by
the shim's ``sam3.train.configs`` rule), or torchrun with ``npu_compat.training.launch``. Two
epochs of two steps each (global batch 2), fp32 unless a test says otherwise.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.trainer_runs import loss_curve as _curve
from tests.training.trainer_runs import (
    RESUME_RTOL,
    ROOT,
    STEPS,
    TWO_PROCESS_RTOL,
    free_port,
    needs_train_extra,
    run,
    single_process_command,
    torchrun_command,
    train_env,
)

pytestmark = needs_train_extra

@pytest.fixture(scope="module")
def reference(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One process, train then validate (COCO metrics in val_stats.json)."""
    log_dir = tmp_path_factory.mktemp("reference")
    run(single_process_command(log_dir / "report.json"), train_env(sample_root, log_dir, SAM3_TRAIN_MODE="train"))
    return log_dir


@pytest.fixture(scope="module")
def two_processes(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torchrun, 2 processes (gloo), batch 1 each: the same global batch as the reference."""
    log_dir = tmp_path_factory.mktemp("two_processes")
    run(torchrun_command(2, free_port()), train_env(sample_root, log_dir, SAM3_TRAIN_BATCH="1"))
    return log_dir


def test_loss_is_finite_and_decreases_with_a_fixed_seed(reference: Path) -> None:
    curve = _curve(reference)
    assert len(curve) == STEPS
    assert all(math.isfinite(v) for v in curve)
    assert curve[-1] < curve[0] and curve[-1] < curve[1], curve


def test_the_shim_found_the_config_and_replaced_the_triton_focal_loss(reference: Path) -> None:
    report = json.loads((reference / "report.json").read_text())
    rules = {r["key"]: r["status"] for r in report["rules"]}
    assert rules["sam3.train.configs"] == "installed"
    assert rules["sam3.kernel.sigmoid_focal_loss"] == "installed"
    fired = {c["rule"] for c in report["calls"]}
    assert {"sam3.train.configs", "dist.init_process_group", "cuda.set_device"} <= fired, sorted(fired)


def test_checkpoint_is_written_and_reloads_with_matching_keys(reference: Path, shim_cpu) -> None:
    import torch

    from npu_compat.training.tiny_model import build_tiny_sam3_for_training

    path = reference / "checkpoints" / "checkpoint.pt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert checkpoint["steps"]["train"] == STEPS and checkpoint["epoch"] == 2
    fresh = build_tiny_sam3_for_training(enable_segmentation=False, resolution=504)
    assert set(checkpoint["model"]) == set(fresh.state_dict())
    reloaded = build_tiny_sam3_for_training(enable_segmentation=False, resolution=504, checkpoint_path=str(path))
    for name, value in reloaded.state_dict().items():
        assert torch.equal(value, checkpoint["model"][name]), name
    trained = [n for n, v in fresh.state_dict().items() if not torch.equal(v, checkpoint["model"][n])]
    assert trained, "training changed no weight"


def test_two_processes_match_one_process(reference: Path, two_processes: Path) -> None:
    one, two = _curve(reference), _curve(two_processes)
    assert len(two) == STEPS and len(list((two_processes / "steps").glob("steps.rank*.jsonl"))) == 2
    for step, (a, b) in enumerate(zip(one, two)):
        assert abs(a - b) <= TWO_PROCESS_RTOL * abs(a), (step, one, two)


def _logged_steps(log_dir: Path) -> set[int]:
    from npu_compat.training.step_log import LOSS_TAG, read_step_log

    path = log_dir / "steps" / "steps.rank0.jsonl"
    return set(read_step_log(path).get(LOSS_TAG, {})) if path.exists() else set()


def test_killed_run_resumes_from_its_checkpoint(reference: Path, sample_root: Path, tmp_path: Path) -> None:
    import torch

    env = train_env(sample_root, tmp_path)
    command = single_process_command()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "checkpoints" / "checkpoint.pt"
    deadline = time.monotonic() + 240
    try:  # kill once epoch 0 is checkpointed and epoch 1 has begun (step 2 logged)
        while not (checkpoint.exists() and 2 in _logged_steps(tmp_path)):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert STEPS - 1 not in _logged_steps(tmp_path), "the kill came after the last step: nothing left to resume"
    assert torch.load(checkpoint, map_location="cpu", weights_only=True)["steps"]["train"] == 2

    run(command, env)  # the same command again: the trainer resumes from checkpoints/checkpoint.pt
    resumed = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert resumed["steps"]["train"] == STEPS and resumed["epoch"] == 2
    one, again = _curve(reference), _curve(tmp_path)
    assert len(again) == STEPS
    for step, (a, b) in enumerate(zip(one, again)):
        assert abs(a - b) <= RESUME_RTOL * abs(a), (step, one, again)


def test_bf16_amp_runs_without_a_grad_scaler(sample_root: Path, tmp_path: Path) -> None:
    import importlib.util

    env = train_env(sample_root, tmp_path, SAM3_TRAIN_AMP="true", SAM3_TRAIN_AMP_DTYPE="bfloat16",
                    SAM3_TRAIN_EPOCHS="1")
    # the script-path form of the command: python -m npu_compat.apply -- .../sam3/train/train.py
    script = importlib.util.find_spec("sam3.train.train").origin
    command = single_process_command(tmp_path / "report.json")
    command[command.index("-m", 3):command.index("-c")] = ["--", script]
    run(command, env)
    curve = _curve(tmp_path)
    assert len(curve) == 2 and all(math.isfinite(v) for v in curve)
    calls = [c for c in json.loads((tmp_path / "report.json").read_text())["calls"] if c["rule"] == "sam3.train.grad_scaler"]
    assert calls, "the trainer's GradScaler stayed enabled for bfloat16"


def test_compare_runs_prints_the_table_for_two_real_runs(reference: Path, two_processes: Path, tmp_path: Path) -> None:
    from npu_compat.training.compare import METRICS

    out = tmp_path / "table.json"
    done = subprocess.run([sys.executable, "tools/compare_runs.py", "--a", str(reference), "--b", str(two_processes),
                           "--label-a", "one", "--label-b", "two", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "| metric | one | two | two-one | relative | winner |"
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[2:]}
    assert list(rows) == [m.name for m in METRICS]
    assert rows["train_loss"][4] in ("one better", "two better", "tie")
    # the torchrun run only trained: its COCO metrics are named as missing, not dropped
    assert rows["AP"] == [rows["AP"][0], "missing", "missing", "n/a", "missing in two"]
    table = json.loads(out.read_text())
    assert table["missing"] == [m.name for m in METRICS if m.key.startswith("coco_eval_")]
    loss = next(r for r in table["rows"] if r["metric"] == "train_loss")
    assert loss["diff"] == pytest.approx(loss["b"] - loss["a"])


def test_trainer_own_launcher_two_processes_match_one(reference: Path, sample_root: Path, tmp_path: Path) -> None:
    command = [*single_process_command()[:-1], "2"]  # --num-gpus 2: train.py spawns the processes
    run(command, train_env(sample_root, tmp_path, SAM3_TRAIN_BATCH="1"), timeout=240)
    one, two = _curve(reference), _curve(tmp_path)
    assert len(two) == STEPS
    for a, b in zip(one, two):
        assert abs(a - b) <= TWO_PROCESS_RTOL * abs(a)
