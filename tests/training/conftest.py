"""Fixtures for the training tests: the sample set, written once per session."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from npu_compat.training.sample_set import write_sample_set

    return write_sample_set(tmp_path_factory.mktemp("sam3_train_data"))
