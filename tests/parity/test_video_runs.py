"""The ``video`` capture run: upstream's video request API on the tiny video model of the importable sam3.

Regenerates the committed video inventories and checks they match (slow: about two minutes each on
two cores): SAM 3.1's multiplex model on the 3.1 tree (skips without $SAM3_31_SRC, see
tests/conftest.py), and SAM3's video model on the installed 0.1.4 wheel, the baseline it is compared with.
"""
from __future__ import annotations

import pytest

from npu_compat.parity.inventory import Inventory
from tests.conftest import run_python
from tests.parity.test_sam3_runs import DATA, same_calls

pytestmark = pytest.mark.slow


def _capture(tmp_path, env=None) -> Inventory:
    out = tmp_path / "video.json"
    proc = run_python("-m", "npu_compat.parity", "capture", "--model", "tiny", "--runs", "video", "--out", str(out),
                      env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Inventory.load(out)


def test_committed_sam31_video_inventory_is_what_capture_records(sam31_env, tmp_path):
    inventory = _capture(tmp_path, sam31_env)
    assert inventory.meta["video"]["version"] == "sam3.1" and inventory.meta["video"]["frames"] == 3
    same_calls(inventory, Inventory.load(DATA / "sam31_inventory_tiny_video.json"))


def test_committed_sam3_video_inventory_is_what_capture_records(tmp_path):
    inventory = _capture(tmp_path, {"CUDA_VISIBLE_DEVICES": ""})
    assert inventory.meta["video"]["version"] == "sam3" and inventory.meta["sam3"] == "0.1.4"
    same_calls(inventory, Inventory.load(DATA / "sam3_inventory_tiny_video.json"))
