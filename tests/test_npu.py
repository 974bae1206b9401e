"""npu.py against the simulated npu, a TEST DOUBLE of torch_npu: there is no CANN or Ascend
hardware here. Nothing in this file is verified on an NPU; it checks our logic around torch_npu's API.
"""
import pytest

from npu_compat import npu
from npu_compat.errors import TargetError


SIM = {"NPU_COMPAT_SIMULATE": "torch_npu==2.7.1.post2"}

# The runtime profile runs against the simulated npu (a TEST DOUBLE of the Ascend stack: the
# stand-in torch_npu of npu_compat.sim, in a subprocess since it registers 'npu' for good).
PROFILE = """
import json, torch
import npu_compat
from npu_compat import npu
from npu_compat.shim import ShimOptions
def knobs():
    n = torch.npu
    return [n.is_jit_compile_false(), n.config.allow_internal_format, n.conv.allow_hf32, n.matmul.allow_hf32]
torch_npu = npu.load_torch_npu()
out = {"before": knobs()}
session = npu_compat.apply(options=ShimOptions(device="npu", npu_profile=npu.RuntimeProfile(%s)))
out["applied"] = knobs()
out["settings"] = [s.key for s in session.settings]
out["again"] = npu_compat.apply(options=ShimOptions(device="npu", npu_profile=npu.RuntimeProfile(%s))) is session
npu_compat.revert()
out["reverted"] = knobs()
out["calls"] = [c[0] for c in __import__("npu_compat.sim.device_module", fromlist=["CALLS"]).CALLS
                if c[0] == "set_compile_mode"]
print(json.dumps(out))
"""


def _profile(args: str = "") -> dict:
    import json

    from tests.conftest import run_python

    proc = run_python("-c", PROFILE % (args, args), env=SIM)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_simulated_profile_applies_defaults_and_records_each_setting():
    out = _profile()
    # [jit_compile off?, internal format, conv hf32, matmul hf32]: torch_npu's defaults, then ours
    assert out["before"] == [False, True, True, False]
    assert out["applied"] == [True, False, True, False]  # HF32 knobs left alone
    assert out["settings"] == ["npu.jit_compile", "npu.allow_internal_format"]
    assert out["again"] is True
    assert out["reverted"] == out["before"] and out["calls"] == ["set_compile_mode", "set_compile_mode"]


def test_simulated_hf32_options_and_exact_revert():
    out = _profile("conv_hf32=False, matmul_hf32=True")
    assert out["applied"] == [True, False, False, True]
    assert out["reverted"] == [False, True, True, False]


def test_simulate_spec_is_checked():
    assert npu.simulated_version({"NPU_COMPAT_SIMULATE": " torch_npu==2.7.1.post2 "}) == "2.7.1.post2"
    assert npu.simulated_version({}) is None
    for bad in ("2.7.1", "torch==2.7.1", "torch_npu=="):
        with pytest.raises(TargetError, match="torch_npu==VERSION"):
            npu.simulated_version({"NPU_COMPAT_SIMULATE": bad})


def test_simulated_pair_mismatch_is_reported_not_fatal():
    """The simulator runs on the installed torch: the pair hardware would refuse is a note."""
    import json

    from tests.conftest import run_python

    code = ("import json; from npu_compat import npu; m = npu.load_torch_npu(); "
            "print(json.dumps([m.__version__, m.SIMULATED, npu.backend_label(), npu.TARGET_NOTES]))")
    proc = run_python("-c", code, env=SIM)
    assert proc.returncode == 0, proc.stderr[-2000:]
    version, simulated, label, notes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (version, simulated, label) == ("2.7.1.post2", True, "simulated npu (torch_npu 2.7.1.post2)")
    assert len(notes) == 1 and "needs torch 2.7.1" in notes[0] and "on hardware this pair is refused" in notes[0]


@pytest.mark.parametrize(
    "torch_version, torch_npu_version, ok",
    [
        ("2.7.1+cpu", "2.7.1.post2", True),
        ("2.7.1", "2.7.1", True),
        ("2.14.1+cu130", "2.7.1.post2", False),
        ("2.7.1+cu126", "2.7.1.post2", False),  # a CUDA build: torch_npu refuses to load beside it
        ("2.6.0", "2.7.1", False),
    ],
)
def test_version_pair_check(torch_version, torch_npu_version, ok):
    if ok:
        npu.check_version_pair(torch_version, torch_npu_version)
    else:
        with pytest.raises(TargetError) as err:
            npu.check_version_pair(torch_version, torch_npu_version)
        assert "\n" not in str(err.value) and "torch" in str(err.value)


def test_mismatch_message_names_the_needed_torch():
    with pytest.raises(TargetError, match=r"torch_npu 2\.7\.1\.post2 needs torch 2\.7\.1, found 2\.14\.1"):
        npu.check_version_pair("2.14.1", "2.7.1.post2")


def test_no_torch_npu_here_means_unavailable_not_a_crash():
    assert npu.installed_torch_npu_version() is None
    assert npu.npu_available() is False


def test_torch_npu_is_imported_in_exactly_one_module():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    importers = set()
    for path in list((root / "npu_compat").rglob("*.py")) + list((root / "tools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "torch_npu" or n.startswith("torch_npu.") for n in names):
                importers.add(path.relative_to(root).as_posix())
    assert importers == {"npu_compat/npu.py"}
