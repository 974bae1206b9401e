"""``python -m npu_compat.parity e2e --device npu --simulate ...`` runs the tiny image pipeline on the
simulated npu (a test double of the Ascend stack) against the CPU reference, and says so."""
import json

from tests.conftest import run_python
from tests.sim.conftest import SIM


def test_parity_e2e_runs_and_says_simulated(tmp_path):
    proc = run_python("-m", "npu_compat.parity", "e2e", "--device", "npu", "--simulate", SIM, "--model", "tiny",
                      "--boxes", "--out-json", str(tmp_path / "e2e.json"), timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert "on npu (simulated npu (torch_npu 2.7.1.post2))" in summary, summary
    result = json.loads((tmp_path / "e2e.json").read_text())
    assert result["device"] == "npu (simulated npu (torch_npu 2.7.1.post2))" and result["stages"]
