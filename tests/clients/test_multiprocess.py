"""CUDA-written multi-process programs run under the shim on the cpu target, every process shimmed.

Each test runs a real torch launcher (mp.spawn, torchrun, DataLoader workers, a multiprocessing
pool) on a script written for CUDA and nccl, checks that the children's rules fired and that the
root's report lists every child, then runs the same script without the shim to show it fails.
"""
import json
import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import run_python

SCRIPTS = Path(__file__).resolve().parent / "mp_scripts"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork/forkserver and gloo on localhost: POSIX")


def _port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _shimmed(tmp_path, *program, env=None):
    """Run under the shim with a private TMPDIR, and check the root removed its process folder."""
    report, tmp = tmp_path / "report.json", tmp_path / "tmp"
    tmp.mkdir()
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), *program,
                      env={"MASTER_PORT": _port(), "TMPDIR": str(tmp), **(env or {})}, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert not list(tmp.glob("npu_compat-processes-*")), "the root left its process folder behind"
    return proc, json.loads(report.read_text())


def _plain(*program):
    return run_python(*program, env={"MASTER_PORT": _port()}, timeout=120)


def _rules(child):
    return {c["rule"] for c in child["calls"]}


def _check_two_ranks(proc, report):
    lines = sorted(l for l in proc.stdout.splitlines() if l.startswith("RANK"))
    assert lines == ["RANK 0 gloo [3.0, 3.0]", "RANK 1 gloo [3.0, 3.0]"], proc.stdout
    children = [c for c in report["processes"] if _rules(c)]
    assert len(children) == 2
    for child in children:
        assert {"dist.init_process_group", "device.torch.ones"} <= _rules(child)
        nccl = next(c for c in child["calls"] if c["rule"] == "dist.init_process_group")
        assert (nccl["old"], nccl["new"]) == ("nccl", "gloo")
    return children


def test_mp_spawn_with_nccl_runs_on_gloo_and_the_report_lists_both_processes(tmp_path):
    script = str(SCRIPTS / "spawn_nccl.py")
    proc, report = _shimmed(tmp_path, "--", script)
    children = _check_two_ranks(proc, report)
    assert len({c["process"]["pid"] for c in children}) == 2
    assert "2 child processes, each shimmed" in proc.stderr and proc.stderr.count("npu_compat: target cpu;") == 1
    assert _plain(script).returncode != 0


def test_torchrun_as_the_program_runs_nccl_workers_on_gloo_with_a_merged_report_by_rank(tmp_path):
    script = str(SCRIPTS / "torchrun_nccl.py")
    proc, report = _shimmed(tmp_path, "-m", "torch.distributed.run", "--nproc-per-node", "2", script)
    children = _check_two_ranks(proc, report)
    assert sorted(c["process"]["rank"] for c in children) == [0, 1]
    assert all(c["process"]["world_size"] == 2 for c in children)
    assert "rank 0 pid" in proc.stderr and "rank 1 pid" in proc.stderr
    plain = _plain("-m", "torch.distributed.run", "--nproc-per-node", "2", script)
    assert plain.returncode != 0


def test_torchrun_started_by_the_script_runs_its_workers_shimmed(tmp_path):
    script = str(SCRIPTS / "launches_torchrun.py")
    proc, report = _shimmed(tmp_path, "--", script)
    children = _check_two_ranks(proc, report)  # the launcher itself reports too, with no calls
    assert sorted(c["process"]["rank"] for c in children) == [0, 1]
    assert len(report["processes"]) == 3
    assert _plain(script).returncode != 0


def test_dataloader_spawn_workers_run_the_dataset_on_the_target(tmp_path):
    script = str(SCRIPTS / "loader_spawn.py")
    proc, report = _shimmed(tmp_path, "--", script)
    assert "SUM 56.0" in proc.stdout
    assert "pin_memory.DataLoader" in {c["rule"] for c in report["calls"]}
    workers = report["processes"]
    assert len(workers) == 2 and all(_rules(w) == {"device.torch.full"} for w in workers)
    assert sum(c["count"] for w in workers for c in w["calls"]) == 8  # every item built in a shimmed worker
    assert _plain(script).returncode != 0


@pytest.mark.parametrize("method", ["forkserver", "fork"])  # spawn: the mp.spawn and DataLoader tests
def test_pool_workers_are_shimmed_and_report_for_every_start_method(tmp_path, method):
    script = str(SCRIPTS / "pool_context.py")
    proc, report = _shimmed(tmp_path, "--", script, method)
    assert "TOTAL 6.0" in proc.stdout
    fired = [w for w in report["processes"] if _rules(w)]
    assert fired and all(_rules(w) == {"device.torch.ones"} for w in fired)
    assert sum(c["count"] for w in fired for c in w["calls"]) == 4
    if method != "fork":  # a forked worker inherits the patched parent; with a fresh interpreter it fails
        assert _plain(script, method).returncode != 0


def test_a_forked_child_that_exits_normally_reports_once_and_leaves_the_root_its_report(tmp_path):
    proc, report = _shimmed(tmp_path, "--", str(SCRIPTS / "os_fork.py"))
    assert "CHILD EXIT 0" in proc.stdout
    assert proc.stderr.count("npu_compat: target cpu;") == 1  # the child ran its parent's exit path quietly
    assert report["process"]["pid"] != report["processes"][0]["process"]["pid"]
    assert [_rules(c) for c in report["processes"]] == [{"device.torch.zeros"}]
    assert _plain(str(SCRIPTS / "os_fork.py")).stdout.count("CHILD EXIT 1") == 1  # the child fails without the shim
