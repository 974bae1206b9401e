"""sam3's own trainer (unmodified) on the simulated npu (a TEST DOUBLE of torch_npu 2.7.1.post2 on
host storage) through the shim, against the same steps on the cpu target:

- one process: ``python -m npu_compat.apply --device npu --simulate torch_npu==2.7.1.post2
  -m sam3.train.train -c configs/skimage_sample/tiny_ft.yaml --use-cluster 0 --num-gpus 1``;
- two processes with torchrun and ``npu_compat.training.launch`` over the simulated ``hccl``,
  rank R on ``npu:R``, batch 1 each (the same global batch).

The trainer's DistributedDataParallel uses ``find_unused_parameters: True``, so PyTorch's reducer
stages through pinned host memory, and rank 1's backward needs a device guard that knows ``npu:1``:
the simulator's C++ device supplies both (docs/simulated-npu.md, The device library). It needs a C++
compiler; without one these tests are skipped.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from npu_compat.sim import native_hooks
from tests.training.trainer_runs import (
    STEPS,
    TWO_PROCESS_RTOL,
    free_port,
    loss_curve,
    needs_train_extra,
    run,
    single_process_command,
    torchrun_command,
    train_env,
)

needs_compiler = pytest.mark.skipif(native_hooks.compiler() is None,
                                    reason="the simulated npu's pinned memory needs a C++ compiler (g++)")
pytestmark = [needs_train_extra, needs_compiler]

SIMULATE = "torch_npu==2.7.1.post2"
# The simulator computes on the host with the cpu's kernels: measured at most 1.2e-7 relative (one
# process) and 6.1e-8 (two), fp32, so the bound docs/training.md gives for reduction order holds.
SIMULATED_RTOL = TWO_PROCESS_RTOL


def _simulated(command: list[str]) -> list[str]:
    """``command`` (through the shim, cpu target) on the simulated npu instead."""
    at = command.index("--device")
    return [*command[:at], "--device", "npu", "--simulate", SIMULATE, *command[at + 2:]]


@pytest.fixture(scope="module")
def cpu_run(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    log_dir = tmp_path_factory.mktemp("cpu")
    run(single_process_command(), train_env(sample_root, log_dir))
    return log_dir


def _check_curve(log_dir: Path, reference: Path) -> None:
    curve = loss_curve(log_dir)
    assert len(curve) == STEPS and all(math.isfinite(v) for v in curve)
    assert curve[-1] < curve[0], curve
    assert curve == pytest.approx(loss_curve(reference), rel=SIMULATED_RTOL)


def test_the_trainer_on_the_simulated_npu_matches_the_cpu_run(sample_root: Path, cpu_run: Path,
                                                              tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    run(_simulated(single_process_command(report_path)), train_env(sample_root, tmp_path))
    report = json.loads(report_path.read_text())
    assert report["target"]["backend"] == f"simulated npu (torch_npu {SIMULATE.split('==')[1]})"
    assert not [n for n in report["target"].get("notes", []) if "pinned host memory" in n]
    _check_curve(tmp_path, cpu_run)


def test_two_processes_on_the_simulated_npu_match_the_one_process_cpu_run(sample_root: Path, cpu_run: Path,
                                                                          tmp_path: Path) -> None:
    sim_log = tmp_path / "sim"
    run(_simulated(torchrun_command(2, free_port())),
        train_env(sample_root, tmp_path, SAM3_TRAIN_BATCH="1", NPU_COMPAT_SIM_LOG=str(sim_log)))
    ranks = {int(p["rank"]): p for p in (json.loads(f.read_text()) for f in sim_log.glob("sim-*.json"))}
    assert {r: p["devices_used"] for r, p in ranks.items()} == {0: ["npu:0"], 1: ["npu:1"]}
    _check_curve(tmp_path, cpu_run)
