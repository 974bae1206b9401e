"""A shimmed run ended by SIGTERM (timeout, Slurm, Kubernetes) still writes its report."""
import json
import os
import signal
import subprocess
import sys

import npu_compat
from tests.conftest import ROOT

SLEEPER = "import time, torch\ntorch.zeros(1, device='cuda')\nprint('READY', flush=True)\ntime.sleep(120)\n"


def test_sigterm_writes_the_report_and_exits_143(tmp_path):
    script, report = tmp_path / "sleeper.py", tmp_path / "report.json"
    script.write_text(SLEEPER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "npu_compat.apply", "--device", "cpu", "--report", str(report),
                             "--", str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()[-2000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    calls = json.loads(report.read_text())["calls"]
    assert [c["rule"] for c in calls if c["file"] == str(script)] == ["device.torch.zeros"]
    assert "npu_compat: target cpu;" in err


def test_a_handler_of_the_programs_own_is_left_alone_and_revert_restores_the_default():
    npu_compat.revert()
    mine = lambda signum, frame: None  # noqa: E731
    signal.signal(signal.SIGTERM, mine)
    try:
        npu_compat.apply(device="cpu")
        assert signal.getsignal(signal.SIGTERM) is mine
        npu_compat.revert()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    npu_compat.apply(device="cpu")
    try:
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        npu_compat.revert()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_forked_child_gets_the_default_sigterm_back():
    npu_compat.revert()
    npu_compat.apply(device="cpu")
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report whether SIGTERM has its default action, then leave at once
            os.write(write, b"1" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else b"0")
            os._exit(0)
        os.waitpid(pid, 0)
        assert os.read(read, 1) == b"1"
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the root keeps its handler
    finally:
        npu_compat.revert()
