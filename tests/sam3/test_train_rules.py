"""Tests for npu_compat.sam3.train_rules (sam3's trainer: config search path, GradScaler)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.trainer_runs import needs_train_extra

pytestmark = needs_train_extra


@pytest.fixture
def fresh_hydra():
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


def _search_path() -> list[tuple[str, str]]:
    from hydra.core.global_hydra import GlobalHydra

    return [(e.provider, e.path) for e in GlobalHydra.instance().config_loader().get_search_path().get_path()]


def test_sam3_train_compositions_find_the_kit_configs(shim_cpu, fresh_hydra, monkeypatch) -> None:
    import hydra

    monkeypatch.delenv("SAM3_TRAIN_CONFIG_PATH", raising=False)
    hydra.initialize_config_module("sam3.train", version_base="1.2")
    paths = [p for _, p in _search_path()]
    assert paths.index("pkg://sam3.train") < paths.index("pkg://npu_compat.training") < paths.index("structured://")
    cfg = hydra.compose(config_name="configs/skimage_sample/tiny_ft.yaml")
    assert cfg.trainer._target_ == "sam3.train.trainer.Trainer"


def test_user_config_folders_come_first(shim_cpu, fresh_hydra, monkeypatch, tmp_path: Path) -> None:
    import hydra

    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "mine.yaml").write_text("# @package _global_\ntrainer:\n  max_epochs: 7\n")
    monkeypatch.setenv("SAM3_TRAIN_CONFIG_PATH", str(tmp_path))
    hydra.initialize_config_module("sam3.train", version_base="1.2")
    ours = [p for provider, p in _search_path() if provider == "npu_compat"]
    assert ours == [f"file://{tmp_path}", "pkg://npu_compat.training"]
    assert hydra.compose(config_name="configs/mine.yaml").trainer.max_epochs == 7


def test_other_config_modules_are_untouched(shim_cpu, fresh_hydra) -> None:
    import hydra

    hydra.initialize_config_module("npu_compat.training", version_base="1.2")
    assert all(provider != "npu_compat" for provider, _ in _search_path())


def test_revert_restores_hydra(fresh_hydra) -> None:
    import importlib

    import hydra

    import npu_compat

    original = importlib.import_module("hydra.initialize").initialize_config_module
    npu_compat.revert()
    npu_compat.apply(device="cpu")
    try:
        assert hydra.initialize_config_module is not original
        assert issubclass(hydra.initialize_config_module, original)
    finally:
        npu_compat.revert()
    assert hydra.initialize_config_module is original


def test_only_float16_needs_a_grad_scaler() -> None:
    from npu_compat.sam3.train_rules import needs_grad_scaler

    assert needs_grad_scaler("float16") and not needs_grad_scaler("bfloat16")
