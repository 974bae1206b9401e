"""The shim's tables against the newest torch on PyPI, in another environment.

Set ``NPU_COMPAT_NEXT_TORCH_PYTHON`` to the Python of an environment with that torch (e.g. a venv
with torch 2.15.0, the CPU build) to run it; otherwise it is skipped. It compares that run with
the same probe in this environment: the generated tables must install there with no signature
drift, and the redirects must behave the same. What differs between the versions is printed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).parent / "probe_tables.py"
NEXT = os.environ.get("NPU_COMPAT_NEXT_TORCH_PYTHON")


def _probe(python: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([python, str(PROBE)], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not NEXT, reason="set NPU_COMPAT_NEXT_TORCH_PYTHON to a Python with the newest torch")
def test_tables_run_against_the_newest_torch():
    here, there = _probe(sys.executable), _probe(NEXT)  # type: ignore[arg-type]
    assert there["torch"] != here["torch"], "point NPU_COMPAT_NEXT_TORCH_PYTHON at another torch"
    drift = {k: v for k, v in there["skipped"].items() if "signature" in v}
    assert not drift, drift
    assert there["checks"] == {**here["checks"], "autocast": there["checks"]["autocast"]}
    assert there["apply_ms"] < 1000
    print(json.dumps({
        "torch": [here["torch"], there["torch"]],
        "device_params_added": sorted(set(there["device_params"]) - set(here["device_params"])),
        "device_params_removed": sorted(set(here["device_params"]) - set(there["device_params"])),
        "cuda_names_added": sorted(set(there["cuda_names"]) - set(here["cuda_names"])),
        "cuda_names_removed": sorted(set(here["cuda_names"]) - set(there["cuda_names"])),
        "accelerator_names_added": sorted(set(there["accelerator_names"]) - set(here["accelerator_names"])),
        "skipped_there": there["skipped"],
    }, indent=1))


def test_the_probe_runs_here():
    """The same probe in this environment, so the comparison above has a known baseline."""
    here = _probe(sys.executable)
    assert here["checks"]["meta_context"] == "meta" and here["checks"]["zeros_cuda"] == "cpu"
    assert here["checks"]["accelerator"] == [True, "cuda"] and here["checks"]["generator"] is True
    assert not {k: v for k, v in here["skipped"].items() if "signature" in v}
