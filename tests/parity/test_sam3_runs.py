"""Capture applies the shim before sam3 is imported, and reuses a session already applied for the device.

The SAM 3.1 inventories committed in npu_compat/data are regenerated on the 3.1 tree (skips without
$SAM3_31_SRC, see tests/conftest.py; slow: about a minute each on two cores) and must match: the
same distinct calls (op, argument shapes, dtypes, strides) with the same counts, run by run.
"""
from __future__ import annotations

import pytest

from npu_compat.parity.inventory import Inventory
from npu_compat.parity.sam3_runs import capture_sam3, sam3_on
from tests.conftest import ROOT, cpu_shim, run_python

DATA = ROOT / "npu_compat" / "data"


def same_calls(a: Inventory, b: Inventory) -> None:
    """Equal distinct calls and counts per run (value ranges may differ between machines)."""
    assert a.runs == b.runs
    calls = lambda inv: {e.signature(): (e.count, sorted(e.runs)) for e in inv}  # noqa: E731
    ca, cb = calls(a), calls(b)
    assert set(ca) == set(cb), f"{len(set(ca) - set(cb))} calls only in the new capture, {len(set(cb) - set(ca))} only in the committed one"
    assert ca == cb


def test_an_active_session_for_the_device_is_used_as_it_is():
    """A second apply() with the default options would be refused (log_level differs): sam3_on must not call it."""
    with cpu_shim(log_level="debug") as session:
        with sam3_on("cpu") as used:
            assert used is session
        import npu_compat

        assert npu_compat.current() is session, "sam3_on left the caller's session in place"


def test_unknown_or_unsupported_runs_are_refused_before_any_model():
    with pytest.raises(ValueError, match="unknown runs"):
        capture_sam3("tiny", runs=("image", "film"))
    with pytest.raises(ValueError, match="--model tiny --autocast none"):
        capture_sam3("tiny", runs=("video",), autocast_bf16=True)


@pytest.mark.slow
@pytest.mark.parametrize("name, options", [("fp32", []), ("bf16", ["--autocast", "bf16"])])
def test_committed_sam31_image_inventory_is_what_capture_records(name, options, sam31_env, tmp_path):
    """``python -m npu_compat.parity capture`` on the 3.1 tree, no ``npu_compat.apply`` around it
    (sam3@96914d2 imports pkg_resources at module level: only the shim's stand-in provides it)."""
    out = tmp_path / "inv.json"
    proc = run_python("-m", "npu_compat.parity", "capture", "--model", "tiny", *options, "--out", str(out),
                      env=sam31_env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    same_calls(Inventory.load(out), Inventory.load(DATA / f"sam31_inventory_tiny_{name}.json"))
