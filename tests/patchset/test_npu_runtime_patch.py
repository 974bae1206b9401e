"""Patch 0009's npu branch runs: the patched ``_apply_npu_runtime_settings`` decides "is this an
npu?" without ``torch.device("npu")`` (which raises until torch_npu registers the name), then
imports torch_npu lazily and sets the two runtime knobs.

torch_npu needs Ascend hardware and CANN, so the subprocess puts a TEST DOUBLE of torch_npu on
``sys.path``: a module that records ``set_compile_mode`` and holds ``npu.config``, as torch_npu
does, and registers nothing else. Whether the device string parses is what is under test.
"""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from npu_compat.patchset.engine import apply_series

REPO = Path(__file__).resolve().parents[2]

TORCH_NPU_TEST_DOUBLE = '''
"""TEST DOUBLE of torch_npu (Ascend hardware and CANN are absent): records the runtime knobs."""
import types, torch
calls = []
npu = types.SimpleNamespace(config=types.SimpleNamespace(allow_internal_format=True),
                            set_compile_mode=lambda jit_compile: calls.append(("set_compile_mode", jit_compile)))
torch.npu = npu
'''

RUNNER = r"""
import json, sys
tree, out = sys.argv[1], sys.argv[2]
sys.path[:0] = [tree, sys.argv[3]]
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
    double = sys.modules.get("torch_npu")  # cpu must not import it at all
    results[str(device)] = {"imported": double is not None, "calls": list(double.calls) if double else [],
                            "internal": torch.npu.config.allow_internal_format if double else None}
    if double:
        double.calls.clear(); torch.npu.config.allow_internal_format = True
json.dump(results, open(out, "w"))
"""


@pytest.fixture(scope="module")
def patched_tree(sam3_014, series_patches):
    report, tree = apply_series(sam3_014, series_patches)
    assert report.applied
    yield tree
    shutil.rmtree(tree.parent)


def test_patched_builder_applies_npu_settings_for_a_device_string(patched_tree, tmp_path):
    double = tmp_path / "double"
    double.mkdir()
    (double / "torch_npu.py").write_text(textwrap.dedent(TORCH_NPU_TEST_DOUBLE))
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(patched_tree), str(out), str(double)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["cpu"] == {"imported": False, "calls": [], "internal": None}
    for device in ("npu", "npu:1"):
        assert "error" not in results[device], results[device]
        assert results[device]["calls"] == [["set_compile_mode", False]]
        assert results[device]["internal"] is False
