"""The patch route: sam3 0.1.4 with the committed series (patches/0001-0010) applied, the config
copied into the fork's ``sam3/train/configs/``, ``accelerator: cpu``, no shim. Its loss curve
must equal the shim route's (same config, same seed) within the two-process tolerance."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.training.trainer_runs import (
    CONFIG,
    ROOT,
    STEPS,
    TWO_PROCESS_RTOL,
    loss_curve,
    needs_train_extra,
    run,
    single_process_command,
    train_env,
)

pytestmark = needs_train_extra


@pytest.fixture(scope="module")
def patched_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from npu_compat.patchset.engine import apply_series
    from npu_compat.patchset.series import load_series
    from npu_compat.patchset.errors import PatchError
    from npu_compat.patchset.upstream import extracted_wheel

    try:
        upstream = extracted_wheel("0.1.4")
    except PatchError as err:
        pytest.skip(f"sam3 0.1.4 wheel not available: {err}")
    out = tmp_path_factory.mktemp("patched") / "tree"
    report, tree = apply_series(upstream, load_series(ROOT / "patches" / "series"), out=out)
    assert report.applied and tree is not None
    configs = tree / "sam3" / "train" / "configs"
    (configs / Path(CONFIG).parent.relative_to("configs")).mkdir(parents=True)
    shutil.copy(ROOT / "npu_compat" / "training" / CONFIG, configs / Path(CONFIG).relative_to("configs"))
    return tree


def test_patched_trainer_on_cpu_matches_the_shim_route(patched_tree: Path, sample_root: Path, tmp_path: Path) -> None:
    patched_log = tmp_path / "patched"
    env = train_env(sample_root, patched_log, SAM3_TRAIN_DEVICE="cpu",
                    PYTHONPATH=f"{patched_tree}:{ROOT}")  # the fork's sam3 first
    run([sys.executable, str(patched_tree / "sam3" / "train" / "train.py"), "-c", CONFIG, "--use-cluster", "0",
         "--num-gpus", "1"], env)
    shim_log = tmp_path / "shim"
    run(single_process_command(), train_env(sample_root, shim_log))
    patched, shimmed = loss_curve(patched_log), loss_curve(shim_log)
    assert len(patched) == STEPS
    for a, b in zip(shimmed, patched):
        assert abs(a - b) <= TWO_PROCESS_RTOL * abs(a), (shimmed, patched)


@pytest.mark.parametrize(("amp_dtype", "scaled"), [("bfloat16", False), ("float16", True)])
def test_patched_trainer_scales_the_loss_only_for_float16(patched_tree: Path, sample_root: Path, tmp_path: Path,
                                                          amp_dtype: str, scaled: bool) -> None:
    """The checkpoint holds the GradScaler's state: empty when the scaler is disabled (upstream
    enables it for bfloat16 too), the loss scale when it runs (float16 autocast works on cpu)."""
    import math

    import torch

    env = train_env(sample_root, tmp_path, SAM3_TRAIN_DEVICE="cpu", SAM3_TRAIN_AMP="true",
                    SAM3_TRAIN_AMP_DTYPE=amp_dtype, SAM3_TRAIN_EPOCHS="1", PYTHONPATH=f"{patched_tree}:{ROOT}")
    run([sys.executable, str(patched_tree / "sam3" / "train" / "train.py"), "-c", CONFIG, "--use-cluster", "0",
         "--num-gpus", "1"], env)
    curve = loss_curve(tmp_path)
    assert len(curve) == STEPS // 2 and all(math.isfinite(v) for v in curve)
    checkpoint = torch.load(tmp_path / "checkpoints" / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ("scale" in checkpoint["scaler"]) is scaled, checkpoint["scaler"]
