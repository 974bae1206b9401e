"""A planted host-tensor bug passes on the cpu target and fails on the simulated npu (a test
double of the Ascend stack), as it fails on hardware: the gap the simulator closes."""
from pathlib import Path

from tests.conftest import run_python
from tests.sim.conftest import SIM

SCRIPT = Path(__file__).resolve().parent / "scripts" / "host_tensor_bug.py"


def _run(*device: str):
    return run_python("-m", "npu_compat.apply", *device, "--log-level", "quiet", "--", str(SCRIPT),
                      env={"CUDA_VISIBLE_DEVICES": ""})


def test_the_bug_passes_on_the_cpu_target():
    proc = _run("--device", "cpu")
    assert proc.returncode == 0 and "kept" in proc.stdout, proc.stderr[-2000:]


def test_the_bug_fails_on_the_simulated_npu_naming_both_devices():
    proc = _run("--device", "npu", "--simulate", SIM)
    assert proc.returncode != 0 and "kept" not in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert "Expected all tensors to be on the same device" in last and "npu:0 and cpu" in last, last
