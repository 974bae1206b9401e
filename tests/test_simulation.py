"""npu_compat.simulation: where the kit and the simulated npu (a test double of torch_npu + CANN) meet."""
from __future__ import annotations

import pytest

import npu_compat
from npu_compat import npu, simulation
from npu_compat.errors import TargetError


def test_device_fallbacks_reach_the_report_only_while_a_session_is_on():
    npu_compat.revert()
    session = npu_compat.apply(device="cpu", log_level="quiet")
    try:
        simulation.device_fallback("aten::planted_op")
        counter = session.report.fallbacks.counters["aten::planted_op"]
        assert (counter.count, counter.action, counter.level) == (1, "cpu-and-back", "torch_npu")
        assert counter.first_site is not None and counter.first_site["file"] == __file__  # the user's line
    finally:
        npu_compat.revert()
    simulation.device_fallback("aten::planted_op")  # nobody listens now: nothing counted, nothing raised
    assert session.report.fallbacks.counters["aten::planted_op"].count == 1


def test_the_simulate_spec_and_notes_are_the_ones_npu_reads():
    assert simulation.simulated_version({simulation.SIMULATE_ENV: "torch_npu==2.7.1.post2"}) == "2.7.1.post2"
    assert simulation.simulated_version({}) is None
    with pytest.raises(TargetError):
        simulation.simulated_version({simulation.SIMULATE_ENV: "torch==2.7.1"})
    assert npu.TARGET_NOTES is simulation.TARGET_NOTES and npu.simulated_version is simulation.simulated_version
