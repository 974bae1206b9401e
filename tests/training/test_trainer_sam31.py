"""sam3's own trainer on the SAM 3.1 tree (upstream sam3@96914d2, unmodified) through the shim, as on 0.1.4.

One process, the tiny fine-tuning config, two epochs of two steps (fp32): on the cpu target and on
the simulated npu (a TEST DOUBLE of torch_npu 2.7.1.post2 on host storage). Skips without $SAM3_31_SRC
(see tests/conftest.py); slow (about 30 s per run on two cores).

3.1's trainer meets the same rows as 0.1.4's (config lookup, triton focal loss, DDP on the target's
backend) plus one of 3.1's own: the ViT MLP's bf16 ``aten._addmm_activation`` (``perflib/fused.py``),
which the sam3 pack runs as ``linear`` + activation in the step's dtype so its gradient flows in fp32.
Upstream's ``addmm_act`` refuses any call with gradients on ("Expected grad to be disabled.", on CUDA too),
so 96914d2's trainer fails in the ViT's first forward without the kit: the series' 0013 lifts that, and the
patched tree (no shim, ``accelerator: cpu``) trains to the same loss curve as the shim route.
"""
from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pytest

from tests.training.test_trainer_simulated_npu import SIMULATE, SIMULATED_RTOL, _simulated, needs_compiler
from tests.conftest import sam31_tree
from tests.training.trainer_runs import (CONFIG, ROOT, STEPS, TWO_PROCESS_RTOL, loss_curve, needs_train_extra, run,
                                         single_process_command, train_env)

pytestmark = [needs_train_extra, pytest.mark.slow]


def _env(sample_root: Path, log_dir: Path, sam31_env: dict) -> dict[str, str]:
    return train_env(sample_root, log_dir, PYTHONPATH=sam31_env["PYTHONPATH"], CUDA_VISIBLE_DEVICES="")


def _check(log_dir: Path, report_path: Path) -> list[float]:
    curve = loss_curve(log_dir)
    assert len(curve) == STEPS and all(math.isfinite(v) for v in curve)
    assert curve[-1] < curve[0], curve
    report = json.loads(report_path.read_text())
    assert {r["key"]: r["status"] for r in report["rules"]}["sam3.kernel.sigmoid_focal_loss"] == "installed"
    fired = {c["rule"] for c in report["calls"]}
    assert {"sam3.train.configs", "sam3.fused.addmm_act.vitdet", "dist.init_process_group"} <= fired, sorted(fired)
    assert (log_dir / "checkpoints" / "checkpoint.pt").is_file()
    return curve


@pytest.fixture(scope="module")
def cpu_run(sample_root: Path, sam31_env: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    log_dir = tmp_path_factory.mktemp("sam31_cpu")
    run(single_process_command(log_dir / "report.json"), _env(sample_root, log_dir, sam31_env))
    return log_dir


def test_the_trainer_runs_on_sam31_on_the_cpu_target(cpu_run: Path) -> None:
    _check(cpu_run, cpu_run / "report.json")


@needs_compiler
def test_the_trainer_on_sam31_on_the_simulated_npu_matches_the_cpu_run(sample_root: Path, sam31_env: dict,
                                                                        cpu_run: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    run(_simulated(single_process_command(report_path)), _env(sample_root, tmp_path, sam31_env))
    report = json.loads(report_path.read_text())
    assert report["target"]["backend"] == f"simulated npu (torch_npu {SIMULATE.split('==')[1]})"
    assert _check(tmp_path, report_path) == pytest.approx(loss_curve(cpu_run), rel=SIMULATED_RTOL)


def test_the_patched_31_tree_trains_without_the_shim_as_the_shim_route(sample_root: Path, sam31_env: dict,
                                                                       cpu_run: Path, tmp_path: Path) -> None:
    from npu_compat.patchset.engine import apply_series
    from npu_compat.patchset.series import load_series

    report, tree = apply_series(sam31_tree(), load_series(ROOT / "patches" / "sam3-96914d2" / "series"),
                                out=tmp_path / "tree")
    assert report.applied and tree is not None
    configs = tree / "sam3" / "train" / "configs" / Path(CONFIG).parent.relative_to("configs")
    configs.mkdir(parents=True)
    shutil.copy(ROOT / "npu_compat" / "training" / CONFIG, configs)
    log_dir = tmp_path / "log"
    run([sys.executable, str(tree / "sam3" / "train" / "train.py"), "-c", CONFIG, "--use-cluster", "0",
         "--num-gpus", "1"],
        train_env(sample_root, log_dir, SAM3_TRAIN_DEVICE="cpu", PYTHONPATH=f"{tree}:{ROOT}", CUDA_VISIBLE_DEVICES=""))
    assert loss_curve(log_dir) == pytest.approx(loss_curve(cpu_run), rel=TWO_PROCESS_RTOL)
