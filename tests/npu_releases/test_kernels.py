import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from npu_compat.errors import KernelListError
from npu_compat.npu_releases.kernels import (DATA_DIR, YAML_MEMBER, available_versions, extract_kernel_list,
                                           load_kernel_list, parse_codegen_yaml)

YAML = """\
backend: NPU
supported:
- _local_scalar_dense
- func: clone
  op_api: true
- func: logit.out(Tensor self, float? eps=None, *, Tensor(a!) out) -> Tensor(a!)
  impl_ns: op_api
symint:
- func: embedding(Tensor weight, Tensor indices, SymInt padding_idx=-1) -> Tensor
custom:
- func: npu_format_cast(Tensor self, int acl_format) -> Tensor
"""


def make_wheel(folder: Path, version: str = "9.9.9") -> Path:
    """A zip laid out like a torch_npu wheel: the yaml and version.py members only."""
    path = folder / f"torch_npu-{version}-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(YAML_MEMBER, YAML)
        wheel.writestr("torch_npu/version.py", f"__version__ = '{version}'\n")
    return path


def test_parse_codegen_yaml_sections():
    sections = parse_codegen_yaml(YAML)
    assert sections["supported"] == ["_local_scalar_dense", "clone", "logit.out"]
    assert sections["symint"] == ["embedding"] and sections["custom"] == ["npu_format_cast"]
    with pytest.raises(KernelListError):
        parse_codegen_yaml("backend: NPU\n")


def test_extract_from_wheel_records_provenance(tmp_path):
    wheel = make_wheel(tmp_path)
    kernels = extract_kernel_list(wheel, today="2026-01-02")
    assert kernels.version == "9.9.9"
    assert kernels.source["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert kernels.source["wheel"] == wheel.name and kernels.source["extracted"] == "2026-01-02"
    assert kernels.has_overload("logit.out") and not kernels.has_overload("logit")


def test_extract_from_installed_folder(tmp_path):
    root = tmp_path / "site" / "torch_npu"
    (root / "csrc" / "aten").mkdir(parents=True)
    (root / "csrc" / "aten" / "npu_native_functions_by_codegen.yaml").write_text(YAML)
    (root / "version.py").write_text("__version__ = '1.2.3'\n")
    assert extract_kernel_list(tmp_path / "site").version == "1.2.3"


def test_bad_sources_give_one_line_errors(tmp_path):
    with pytest.raises(KernelListError, match="neither"):
        extract_kernel_list(tmp_path / "nothing")
    bad = tmp_path / "torch_npu-1-py3-none-any.whl"
    with zipfile.ZipFile(bad, "w") as wheel:
        wheel.writestr("other.txt", "x")
    with pytest.raises(KernelListError, match="torch_npu wheel"):
        extract_kernel_list(bad)
    with pytest.raises(KernelListError, match="available"):
        load_kernel_list("0.0.0")


def test_committed_lists_come_from_the_real_wheels():
    assert {"2.7.1.post2", "2.14.0"} <= set(available_versions())
    for version in ("2.7.1.post2", "2.14.0"):
        kernels = load_kernel_list(version)
        assert kernels.version == version
        assert kernels.source["wheel"].startswith(f"torch_npu-{version}-")
        assert re.fullmatch(r"[0-9a-f]{64}", kernels.source["sha256"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", kernels.source["extracted"])
    old = load_kernel_list("2.7.1.post2")
    assert 880 <= len(old.base_names) <= 950  # torch_npu 2.7.1.post2 has NPU kernels for about 915 base names
    for present in ("grid_sampler_2d", "_upsample_bilinear2d_aa", "nonzero", "sort", "topk",
                    "scaled_dot_product_attention"):
        assert present in old.base_names, present
    assert not old.has_overload("scatter_reduce.two") and "linalg_eigh" not in old.base_names
    assert "roi_align" not in old.base_names and "nms" not in old.base_names


@pytest.mark.slow
def test_committed_list_is_reproducible_from_pypi(tmp_path):
    """Re-download the wheel with the documented command and get the same op list and sha256."""
    tool = Path(__file__).resolve().parents[2] / "tools" / "extract_npu_kernels.py"
    done = subprocess.run([sys.executable, str(tool), "--download", "2.7.1.post2", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    fresh = json.loads((tmp_path / "torch_npu-2.7.1.post2.json").read_text())
    kept = json.loads((DATA_DIR / "torch_npu-2.7.1.post2.json").read_text())
    assert fresh["sections"] == kept["sections"] and fresh["source"]["sha256"] == kept["source"]["sha256"]
