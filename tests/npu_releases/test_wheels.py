"""A release's kernel list and API surface read together from one wheel."""
import zipfile

import pytest

from npu_compat.errors import KernelListError
from npu_compat.npu_releases.wheels import extract_release


def _wheel(tmp_path, with_yaml=True):
    wheel = tmp_path / "torch_npu-4.0.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        if with_yaml:
            archive.writestr("torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml", "supported:\n- relu\n")
        archive.writestr("torch_npu/version.py", "__version__ = '4.0.0'\n")
        archive.writestr("torch_npu/npu/__init__.py", "__all__ = ['NPUGraph']\nfrom .graphs import NPUGraph\n")
    return wheel


def test_writes_both_files(tmp_path):
    done = extract_release(_wheel(tmp_path), tmp_path / "k", tmp_path / "s")
    assert done.version == "4.0.0" and done.kernels.name == done.surface.name == "torch_npu-4.0.0.json"
    assert "1 op overloads" in done.summary and "1 torch_npu.npu names" in done.summary


def test_a_bad_wheel_writes_nothing(tmp_path):
    with pytest.raises(KernelListError):
        extract_release(_wheel(tmp_path, with_yaml=False), tmp_path / "k", tmp_path / "s")
    assert not (tmp_path / "k").exists() and not (tmp_path / "s").exists()
