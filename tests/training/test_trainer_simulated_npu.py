"""sam3's own trainer (unmodified) on the simulated npu (a TEST DOUBLE of torch_npu 2.7.1.post2 on
host storage), one process, through the shim: ``python -m npu_compat.apply --device npu --simulate
torch_npu==2.7.1.post2 -m sam3.train.train -c configs/skimage_sample/tiny_ft.yaml --use-cluster 0
--num-gpus 1``; its loss curve against the same run on the cpu target.

The trainer's DistributedDataParallel uses ``find_unused_parameters: True``, so PyTorch's reducer
stages through pinned host memory: the simulator's C++ hooks supply it (docs/simulated-npu.md,
Pinned memory), which needs a C++ compiler; without one this test is skipped.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from npu_compat.sim import pinned_host
from tests.training.trainer_runs import (
    SHIM,
    STEPS,
    TRAIN_PY,
    TWO_PROCESS_RTOL,
    loss_curve,
    needs_train_extra,
    run,
    single_process_command,
    train_env,
)

pytestmark = needs_train_extra

SIMULATE = "torch_npu==2.7.1.post2"
# The simulator computes on the host with the cpu's kernels; measured 1.2e-7 at most (fp32), so the
# bound docs/training.md gives for runs that differ only in reduction order holds.
SIMULATED_RTOL = TWO_PROCESS_RTOL
needs_compiler = pytest.mark.skipif(pinned_host.compiler() is None,
                                    reason="pinned memory on the simulated npu needs a C++ compiler (g++)")


def simulated_npu_command(report: Path) -> list[str]:
    return [*SHIM[:3], "--device", "npu", "--simulate", SIMULATE, "--report", str(report), *TRAIN_PY,
            "--num-gpus", "1"]


@needs_compiler
def test_the_trainer_on_the_simulated_npu_matches_the_cpu_run(sample_root: Path, tmp_path: Path) -> None:
    cpu_dir, npu_dir = tmp_path / "cpu", tmp_path / "npu"
    run(single_process_command(cpu_dir / "report.json"), train_env(sample_root, cpu_dir))
    run(simulated_npu_command(npu_dir / "report.json"), train_env(sample_root, npu_dir))

    report = json.loads((npu_dir / "report.json").read_text())
    assert report["target"]["backend"] == f"simulated npu (torch_npu {SIMULATE.split('==')[1]})"
    curve, reference = loss_curve(npu_dir), loss_curve(cpu_dir)
    assert len(curve) == STEPS and all(math.isfinite(v) for v in curve)
    assert curve[-1] < curve[0], curve
    assert curve == pytest.approx(reference, rel=SIMULATED_RTOL)
