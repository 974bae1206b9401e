"""Outside programs, unmodified, on the simulated npu (a test double of torch_npu + CANN + the chip).

msprobe (PyPI ``mindstudio-probe``, Ascend's accuracy tool) dumps a small model on the simulated npu and
on the cpu, and ``msprobe compare`` must pass every row: it reads each device tensor's storage, so this is
the check that device tensors are real tensors with real memory. The dump lines are restated here.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_python
from tests.sim.conftest import SIM

DUMP = textwrap.dedent("""
    import sys, torch
    target, dump = sys.argv[1], sys.argv[2]
    if target == "npu":
        from npu_compat import npu
        npu.load_torch_npu()
    from msprobe.pytorch import PrecisionDebugger
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).to(target)
    x = torch.randn(3, 8).to(target)
    debugger = PrecisionDebugger(task="tensor", dump_path=dump, level="mix")
    debugger.start(model=model)
    y = model(x)
    debugger.stop()
    debugger.step()
    print("DUMPED", y.device)
""")


@pytest.mark.slow
def test_msprobe_dump_on_the_simulated_npu_compares_equal_to_the_cpu(tmp_path: Path) -> None:
    pytest.importorskip("msprobe", reason="msprobe is not installed: pip install mindstudio-probe==26.2.0")
    msprobe = shutil.which("msprobe") or str(Path(sys.executable).parent / "msprobe")
    script = tmp_path / "dump.py"
    script.write_text(DUMP)
    for target in ("npu", "cpu"):
        proc = run_python(str(script), target, str(tmp_path / target),
                          env={"NPU_COMPAT_SIMULATE": SIM} if target == "npu" else {}, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"DUMPED {target}" in proc.stdout
    compared = subprocess.run([msprobe, "compare", "-tp", str(tmp_path / "npu" / "step0"), "-gp",
                               str(tmp_path / "cpu" / "step0"), "-o", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=600)
    assert compared.returncode == 0, compared.stderr[-3000:]
    (result,) = list((tmp_path / "out").glob("compare_result_*.csv"))
    rows = list(csv.DictReader(result.open()))
    assert len(rows) >= 20, len(rows)  # 2 linears and a relu: inputs, parameters, outputs at two levels
    assert {row["Result"] for row in rows} == {"pass"}, [(r["NPU Name"], r["Result"]) for r in rows]
    assert any(row["NPU Name"].endswith("parameters.weight") and float(row["Cosine"]) == 1.0 for row in rows)
