"""Helpers that run sam3's trainer on the tiny sample set through the shim, in subprocesses."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "configs/skimage_sample/tiny_ft.yaml"
TRAIN_EXTRA = ("hydra", "submitit", "torchmetrics", "fvcore", "tensorboard")
MISSING_TRAIN_EXTRA = [m for m in TRAIN_EXTRA if importlib.util.find_spec(m) is None]
needs_train_extra = pytest.mark.skipif(bool(MISSING_TRAIN_EXTRA),
                                       reason=f"needs the 'train' extra (missing: {', '.join(MISSING_TRAIN_EXTRA)})")

STEPS = 4  # 4 photos, global batch 2, 2 epochs
TWO_PROCESS_RTOL = 1e-4  # docs/training.md: same seed and global batch, 1 vs 2 processes (fp32)
RESUME_RTOL = 1e-5  # docs/training.md: killed and resumed vs uninterrupted (fp32)

SHIM = [sys.executable, "-m", "npu_compat.apply", "--device", "cpu"]
TRAIN_PY = ["-m", "sam3.train.train", "-c", CONFIG, "--use-cluster", "0"]


def train_env(data_root: Path, log_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NPU_COMPAT_", "SAM3_TRAIN_"))}
    env.update({"PYTHONPATH": str(ROOT), "SAM3_TRAIN_DATA": str(data_root), "SAM3_TRAIN_LOG_DIR": str(log_dir),
                "SAM3_TRAIN_EPOCHS": "2", "SAM3_TRAIN_AMP": "false", "SAM3_TRAIN_MODE": "train_only",
                "SAM3_TRAIN_BATCH": "2",
                # one OpenMP thread, as torchrun sets: spinning worker threads cost 2x CPU on a busy box
                "OMP_NUM_THREADS": "1"})
    env.update(overrides)
    return env


def single_process_command(report: Path | None = None) -> list[str]:
    """sam3's own ``train.py`` through the shim, one process."""
    return [*SHIM, *(["--report", str(report)] if report else []), *TRAIN_PY, "--num-gpus", "1"]


def torchrun_command(nproc: int, port: int) -> list[str]:
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or "torchrun"
    return [torchrun, "--nproc-per-node", str(nproc), "--master-port", str(port), *SHIM[1:],
            "-m", "npu_compat.training.launch", "-c", CONFIG]


def run(command: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loss_curve(log_dir: Path) -> list[float]:
    """The run's per-step global loss (mean over ranks) from its step logs."""
    from npu_compat.training.step_log import loss_curve as curve

    return curve(log_dir / "steps")
