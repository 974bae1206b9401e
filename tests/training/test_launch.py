"""Tests for npu_compat.training.launch (its torchrun run: test_trainer_through_shim.py)."""
from __future__ import annotations

import pytest

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
        "python -m npu_compat.training.launch: error: config 'configs/nope.yaml' not found in sam3.train, the kit's configs or "
        "$SAM3_TRAIN_CONFIG_PATH; pass -c configs/<folder>/<name>.yaml relative to one of them"]


@pytest.mark.parametrize("argv, words", [
    (["foo"], "do not fit config"),
    (["no.such.key=1"], "do not fit config"),
    ([], "training data"),
])
def test_bad_overrides_and_missing_data_are_one_line_and_leave_no_log_folder(tmp_path, argv, words) -> None:
    done = run_python("-m", "npu_compat.training.launch", "-c", "configs/skimage_sample/tiny_ft.yaml", *argv,
                      env={"SAM3_TRAIN_DATA": str(tmp_path / "no_data")}, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr[-2000:]
    assert words in lines[0] and ";" in lines[0]
    assert list(tmp_path.iterdir()) == [], "nothing written (no sam3_logs/)"
