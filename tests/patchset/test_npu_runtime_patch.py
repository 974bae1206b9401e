"""Patch 0009's npu branch runs: the patched ``_apply_npu_runtime_settings`` decides "is this an
npu?" without ``torch.device("npu")`` (which raises until torch_npu registers the name), then
imports torch_npu lazily and sets the two runtime knobs.

torch_npu needs Ascend hardware and CANN, so the subprocess runs on the simulated npu (a TEST
DOUBLE of the Ascend stack): its stand-in torch_npu is first on ``sys.path``, as ``--simulate``
puts it, and records every ``torch.npu`` call. Whether the device string parses is what is under test.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from npu_compat.patchset.engine import apply_series

REPO = Path(__file__).resolve().parents[2]

RUNNER = r"""
import json, sys
tree, out, stand_in = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [tree, stand_in]
import torch
from sam3 import model_builder
assert model_builder.__file__.startswith(tree), model_builder.__file__
results = {}
for device in ("cpu", torch.device("cpu"), "npu", "npu:1"):
    try:
        model_builder._apply_npu_runtime_settings(device)
    except Exception as err:
        results[str(device)] = {"error": f"{type(err).__name__}: {err}"}
        continue
    stand_in = sys.modules.get("torch_npu")  # cpu must not import it at all
    if stand_in is None:
        results[str(device)] = {"imported": False, "calls": [], "internal": None}
        continue
    from npu_compat.sim.device_module import CALLS
    results[str(device)] = {"imported": True, "calls": [[c[0], c[2].get("jit_compile")] for c in CALLS
                                                        if c[0] == "set_compile_mode"],
                            "internal": torch.npu.config.allow_internal_format, "simulated": stand_in.SIMULATED}
    CALLS.clear(); torch.npu.config.allow_internal_format = True
json.dump(results, open(out, "w"))
"""


@pytest.fixture(scope="module")
def patched_tree(sam3_014, series_patches):
    report, tree = apply_series(sam3_014, series_patches)
    assert report.applied
    yield tree
    shutil.rmtree(tree.parent)


def test_patched_builder_applies_npu_settings_for_a_device_string(patched_tree, tmp_path):
    from npu_compat.npu import SIM_STAND_IN

    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(patched_tree), str(out), str(SIM_STAND_IN)], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), "NPU_COMPAT_SIMULATE": "torch_npu==2.7.1.post2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["cpu"] == {"imported": False, "calls": [], "internal": None}
    for device in ("npu", "npu:1"):
        assert "error" not in results[device], results[device]
        assert results[device]["simulated"] is True
        assert results[device]["calls"] == [["set_compile_mode", False]]
        assert results[device]["internal"] is False
