import json
import subprocess
import sys
import zipfile
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "extract_npu_kernels.py"
YAML = "backend: NPU\nsupported:\n- relu\n- func: add.Tensor(Tensor self, Tensor other) -> Tensor\n"


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120)


def test_extracts_a_wheel_into_versioned_json(tmp_path):
    wheel = tmp_path / "torch_npu-3.0.0-cp311-cp311-manylinux_2_28_aarch64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml", YAML)
        archive.writestr("torch_npu/version.py", "__version__ = '3.0.0'\n")
        archive.writestr("torch_npu/npu/__init__.py", "__all__ = ['utilization']\ndef utilization():\n    pass\n")
    done = _run(str(wheel), "--out-dir", str(tmp_path / "out"), "--surface-dir", str(tmp_path / "surface"))
    assert done.returncode == 0, done.stderr
    assert "torch_npu 3.0.0: 2 op overloads" in done.stdout
    data = json.loads((tmp_path / "out" / "torch_npu-3.0.0.json").read_text())
    assert data["sections"]["supported"] == ["add.Tensor", "relu"]
    assert data["source"]["wheel"] == wheel.name and len(data["source"]["sha256"]) == 64
    surface = json.loads((tmp_path / "surface" / "torch_npu-3.0.0.json").read_text())
    assert surface["modules"]["torch_npu.npu"]["all"] == ["utilization"]


def test_help_and_one_line_errors(tmp_path):
    assert "--download" in _run("--help").stdout
    done = _run(str(tmp_path / "missing.whl"), "--out-dir", str(tmp_path), "--surface-dir", str(tmp_path))
    assert done.returncode == 2 and done.stderr.startswith("extract-npu-kernels: error: ") and done.stderr.count("\n") == 1
    assert not list(tmp_path.glob("*.json"))
    assert _run().returncode == 2
