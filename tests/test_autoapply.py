"""The torch-import hook from the installed .pth file, in processes that start with it.

No venv is built: each process adds the temporary site folder with ``site.addsitedir`` before
anything else, which processes its ``.pth`` files exactly as start-up does for site-packages.
"""
import json

import pytest

from npu_compat.autoapply import PTH_NAME
from tests.conftest import ROOT, run_python

CUDA_SCRIPT = "import torch\nprint('DEVICE', torch.zeros(1, device='cuda').device)\n"
HOOKED = "import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); "  # then run the program like python would
AS_MODULE = HOOKED + "sys.argv = sys.argv[1:]; runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
AS_SCRIPT = HOOKED + "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    proc = run_python("-m", "npu_compat.apply", "--install", "--site-dir", str(folder))
    assert proc.returncode == 0 and (folder / PTH_NAME).exists(), proc.stderr
    return folder


def _hooked_module(site, *argv, env=None):
    return run_python("-c", AS_MODULE, str(site), *argv, env=env)


def _hooked_script(site, *argv, env=None):
    return run_python("-c", AS_SCRIPT, str(site), *argv, env=env)


def test_status_and_uninstall_work_with_the_hook_installed(site):
    status = _hooked_module(site, "npu_compat.apply", "--status", "--site-dir", str(site))
    assert status.returncode == 0, status.stderr[-2000:]
    assert "hook installed" in status.stdout and "circular import" not in status.stderr
    assert "npu_compat: target" not in status.stderr  # the CLI's own torch import applied nothing
    off = _hooked_module(site, "npu_compat.apply", "--uninstall", "--site-dir", str(site))
    assert off.returncode == 0, off.stderr[-2000:]
    assert not (site / PTH_NAME).exists()


def test_a_plain_python_script_runs_shimmed_and_prints_one_summary(site, tmp_path):
    script = tmp_path / "user.py"
    script.write_text(CUDA_SCRIPT)
    proc = _hooked_script(site, str(script), env={"NPU_COMPAT_DEVICE": "cpu"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DEVICE cpu" in proc.stdout
    assert proc.stderr.count("npu_compat: target cpu;") == 1 and "device.torch.zeros" in proc.stderr
    plain = run_python(str(script))  # without the hook the same script dies in CUDA
    assert plain.returncode != 0


def test_the_cli_under_the_hook_applies_once_and_prints_one_summary(site, tmp_path):
    script = tmp_path / "user.py"
    script.write_text(CUDA_SCRIPT)
    proc = _hooked_module(site, "npu_compat.apply", "--device", "cpu", "--", str(script))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DEVICE cpu" in proc.stdout and proc.stderr.count("npu_compat: target cpu;") == 1


def test_a_tool_with_its_own_shim_options_works_under_the_hook(site, tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 48), (120, 30, 200)).save(tmp_path / "img.png")
    proc = _hooked_script(site, str(ROOT / "tools" / "sam3_infer.py"), str(tmp_path / "img.png"), "--model", "tiny",
                          "--prompt", "cat", "--threshold", "0", "--device", "cpu", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "detections" in proc.stdout and "circular import" not in proc.stderr


def test_each_process_writes_its_own_report_when_the_path_names_the_pid(site, tmp_path):
    script = tmp_path / "user.py"
    script.write_text(CUDA_SCRIPT + "import os; print('PID', os.getpid())\n")
    env = {"NPU_COMPAT_DEVICE": "cpu", "NPU_COMPAT_LOG": "quiet", "NPU_COMPAT_REPORT": str(tmp_path / "r-{pid}.json")}
    pids = []
    for _ in range(2):
        proc = _hooked_script(site, str(script), env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        pids.append(next(l.split()[1] for l in proc.stdout.splitlines() if l.startswith("PID")))
    for pid in pids:
        report = json.loads((tmp_path / f"r-{pid}.json").read_text())
        assert report["process"]["pid"] == int(pid) and report["calls"][0]["rule"] == "device.torch.zeros"


def test_a_program_after_install_is_refused(tmp_path):
    proc = run_python("-m", "npu_compat.apply", "--install", "--site-dir", str(tmp_path), "--", "script.py")
    assert proc.returncode == 2 and not (tmp_path / PTH_NAME).exists()
    assert proc.stderr.count("\n") == 1 and "--install takes no program" in proc.stderr


def test_two_installed_hooks_still_give_one_shim_and_one_summary(site, tmp_path):
    """The same hook reached twice (e.g. installed in site-packages and in a user site folder)."""
    second = tmp_path / "site2"
    assert run_python("-m", "npu_compat.apply", "--install", "--site-dir", str(second)).returncode == 0
    script = tmp_path / "user.py"
    script.write_text(CUDA_SCRIPT)
    both = "import site, sys; site.addsitedir(sys.argv.pop(1)); " + AS_SCRIPT
    proc = run_python("-c", both, str(second), str(site), str(script), env={"NPU_COMPAT_DEVICE": "cpu"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DEVICE cpu" in proc.stdout and proc.stderr.count("npu_compat: target cpu;") == 1
