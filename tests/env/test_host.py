"""Tests for npu_compat.env.host on this real machine (no NPU, no CANN here)."""

from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path

from npu_compat.env import host


def test_gather_reads_this_machine_without_npu() -> None:
    facts = host.gather(video=None)
    assert facts.system and facts.machine and facts.python.startswith(f"{sys.version_info[0]}.")
    for dist, version in facts.packages.items():
        try:
            assert version == metadata.version(dist)
        except metadata.PackageNotFoundError:
            assert version is None
    if not Path("/usr/local/Ascend").exists():
        assert facts.driver_version is None and facts.cann_version is None


def test_torch_cuda_flavour_is_read_without_importing_torch() -> None:
    code = ("import sys; from npu_compat.env import host; v = host.torch_cuda_version(); "
            "assert 'torch' not in sys.modules; print(v)")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    real = subprocess.run([sys.executable, "-c", "import torch; print(torch.version.cuda)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert got == real


def test_gather_never_imports_torch_npu() -> None:
    """torch_npu needs CANN; a finder that explodes on import proves the check never tries."""
    code = (
        "import sys\n"
        "class Boom:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch_npu', 'torch'):\n"
        "            raise ImportError('imported ' + name)\n"
        "sys.meta_path.insert(0, Boom())\n"
        "from npu_compat.env import host, check\n"
        "check.run_checks(host.gather(video=None))\n"
        "print('clean')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "clean", out.stderr


def test_read_key_takes_first_matching_key(tmp_path: Path) -> None:
    info = tmp_path / "version.info"
    info.write_text("package_name=x\nVersion=24.1.rc2\nversion=ignored\n")
    assert host.read_key(info, ("Version",)) == "24.1.rc2"
    assert host.read_key(info, ("missing",)) is None
    assert host.read_key(tmp_path / "absent", ("Version",)) is None


def test_video_probe_reports_import_failure_as_data(tmp_path: Path) -> None:
    """Here decord is not installed (or is): either way the probe returns, never raises."""
    probe = host.probe_video()
    try:
        metadata.version("decord")
        have = True
    except metadata.PackageNotFoundError:
        have = bool(subprocess.run([sys.executable, "-c", "import decord"]).returncode == 0)
    if have:
        assert probe.decord is not None
    else:
        assert probe.decord is None and probe.error and "decord" in probe.error
    broken = host.probe_video(clip=tmp_path / "missing.mp4")
    assert broken.frames is None and broken.error
