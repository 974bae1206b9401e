"""Tests for npu_compat.training.launch (its torchrun run: test_trainer_through_shim.py)."""
from __future__ import annotations

from tests.conftest import run_python
from tests.training.trainer_runs import needs_train_extra

pytestmark = needs_train_extra


def test_composes_the_kit_config_without_the_shim_and_applies_overrides() -> None:
    from hydra.core.global_hydra import GlobalHydra

    from npu_compat.training.launch import compose_config

    try:
        cfg = compose_config("configs/skimage_sample/tiny_ft.yaml", ["trainer.max_epochs=5"])
    finally:
        GlobalHydra.instance().clear()
    assert cfg.trainer.max_epochs == 5 and cfg.trainer._target_ == "sam3.train.trainer.Trainer"


def test_unknown_config_is_a_one_line_error() -> None:
    done = run_python("-m", "npu_compat.training.launch", "-c", "configs/nope.yaml", timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr  # sam3's import warnings may come before the error line
    assert done.stderr.strip().splitlines()[-1:] == [
        "npu_compat.training.launch: error: config 'configs/nope.yaml' not found in sam3.train, the kit's configs or "
        "$SAM3_TRAIN_CONFIG_PATH; pass -c configs/<folder>/<name>.yaml relative to one of them"]
