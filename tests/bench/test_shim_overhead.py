"""npu_compat.bench.shim_overhead: the cold apply() measurement (fresh processes, sam3 imported first)."""
from __future__ import annotations

import re

import pytest

from npu_compat.bench import shim_overhead


def test_apply_cost_times_a_fresh_process_with_sam3_imported() -> None:
    pytest.importorskip("sam3", reason="the sam3 extra: pip install -e '.[sam3]'")
    rows = {m.name: m for m in shim_overhead.apply_cost(processes=1)}
    wall = rows["apply(), cold, sam3 imported: wall"]
    cpu = rows["apply(), cold, sam3 imported: CPU time"]
    assert wall.unit == cpu.unit == "ms"
    assert 0 < cpu.value < 60_000 and 0 < wall.value < 60_000
    assert re.search(r"packs \[[^]]*'sam3'", wall.note), wall.note  # the sam3 pack was installed in that process
    assert rows["import npu_compat.shim before it: CPU time"].value > 0
