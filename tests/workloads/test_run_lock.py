"""One live run per output: a second process is refused; the lock dies with its holder, and forked
children (an RLE pool) do not keep it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from npu_compat.workloads.run_lock import RunLockedError, run_lock
from tests.conftest import ROOT

HOLD = ("import os, sys, time; from npu_compat.workloads.run_lock import run_lock\n"
        "with run_lock(sys.argv[1]):\n"
        "    child = os.fork()\n"
        "    if child == 0:\n        time.sleep(60); os._exit(0)\n"
        "    print(child, flush=True); time.sleep(60)\n")


def test_second_process_is_refused_and_the_lock_dies_with_its_holder(tmp_path):
    out = tmp_path / "preds.json"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    child = int(holder.stdout.readline())
    try:
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            with run_lock(out):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with run_lock(out):  # the forked child is still alive but holds no lock
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
        os.kill(child, signal.SIGKILL)
