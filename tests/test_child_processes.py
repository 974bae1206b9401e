"""The parent side of child processes: options across exec, the environment, merging reports."""
import json
import os

import npu_compat
from npu_compat import child_processes
from npu_compat.child_processes import BOOT_DIR, OPTIONS_ENV, PROCESS_DIR_ENV, options_from_json, options_to_json
from npu_compat.npu import RuntimeProfile
from npu_compat.shim import ShimOptions
from tests.conftest import run_python


def test_options_survive_the_trip_through_the_environment():
    opts = ShimOptions(device="cpu:0", strict=True, cuda_available="truth", truthful=("mylib",),
                       npu_profile=RuntimeProfile(jit_compile=True, allow_internal_format=None),
                       packs_off=("sam3",), pack_options={"sam3": {"bpe_path": "/x/bpe.gz"}},
                       fallback_off=("roi_align",), log_level="calls")
    assert options_from_json(options_to_json(opts)) == opts
    assert options_from_json(json.dumps({"device": "cpu", "from_a_newer_kit": 1})) == ShimOptions(device="cpu")


def test_apply_passes_the_shim_down_and_revert_takes_it_back(monkeypatch):
    npu_compat.revert()
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.delenv(PROCESS_DIR_ENV, raising=False)
    before = {k: os.environ.get(k) for k in (OPTIONS_ENV, PROCESS_DIR_ENV, "PYTHONPATH")}
    session = npu_compat.apply(log_level="quiet")  # auto: the children get the device this process resolved
    try:
        assert os.environ["PYTHONPATH"].split(os.pathsep) == [BOOT_DIR, "/somewhere"]
        assert options_from_json(os.environ[OPTIONS_ENV]).device == str(session.target.device())
        assert os.environ[PROCESS_DIR_ENV] == session.process_dir and os.path.isdir(session.process_dir)
        assert not session.is_child
    finally:
        npu_compat.revert()
    assert {k: os.environ.get(k) for k in before} == before
    assert not os.path.exists(session.process_dir or "/nonexistent-folder")


def test_the_root_merges_child_reports_in_rank_order_and_skips_a_torn_one(shim_cpu):
    folder = shim_cpu.process_dir
    for rank, pid in ((1, 11), (0, 10)):
        with open(os.path.join(folder, f"rank{rank}-pid{pid}.json"), "w") as fh:
            json.dump({"process": {"pid": pid, "rank": rank}, "calls": [{"rule": "r", "count": 2}]}, fh)
    with open(os.path.join(folder, "pid12.json"), "w") as fh:
        fh.write('{"process": ')  # a child killed mid-write (no rename yet would leave only a .tmp)
    child_processes.collect(shim_cpu)
    assert [p["process"]["rank"] for p in shim_cpu.report.processes] == [0, 1]
    assert not os.path.exists(folder) and shim_cpu.process_dir is None
    summary = shim_cpu.report.summary()
    assert "2 child processes" in summary and "rank 0 pid 10" in summary


def test_a_child_process_reports_to_the_root_and_prints_no_summary(tmp_path):
    code = ("import torch, npu_compat, subprocess, sys\n"
            "s = npu_compat.apply(device='cpu')\n"
            "child = 'import torch; torch.zeros(1, device=\"cuda\")'\n"
            "subprocess.run([sys.executable, '-c', child], check=True)\n"
            "npu_compat.revert()\n"
            "print('CHILDREN', [[c['rule'] for c in p['calls']] for p in s.report.processes])\n")
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CHILDREN [['device.torch.zeros']]" in proc.stdout
    assert "npu_compat: target" not in proc.stderr  # the child's summary goes to the root, not the terminal


EXECS = """import os, sys, torch
torch.zeros(1, device="cuda")
os.execv(sys.executable, [sys.executable, "-c", "import torch; print('after exec', torch.zeros(1, device='cuda').device)"])
"""


def test_os_exec_writes_the_report_first_and_leaves_no_process_folder(tmp_path):
    script, report = tmp_path / "execs.py", tmp_path / "report.json"
    script.write_text(EXECS)
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), "--", str(script),
                      env={"TMPDIR": str(temp)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "after exec cpu" in proc.stdout  # the new program runs shimmed too
    calls = json.loads(report.read_text())["calls"]
    assert {c["rule"] for c in calls if c["file"] == str(script)} == {"device.torch.zeros", "process.os.execv"}
    assert not list(temp.glob("npu_compat-processes-*")), list(temp.iterdir())
