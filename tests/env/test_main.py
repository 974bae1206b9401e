"""Tests for ``python -m npu_compat.env`` run for real on this machine (no NPU here)."""

from __future__ import annotations

import json
import subprocess
import sys

from npu_compat.env import versions


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "npu_compat.env", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_full_check_here_reports_no_npu_as_a_finding_not_a_crash() -> None:
    proc = run()
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "[FAIL] npu: no NPU" in proc.stdout and "environment check FAILED" in proc.stdout
    assert all(ln.startswith(("[ OK ]", "[WARN]", "[FAIL]", "       fix: ", "environment check"))
               for ln in proc.stdout.splitlines())


def test_build_mode_json_has_no_device_findings() -> None:
    proc = run("check", "--build", "--json", "--no-video")
    findings = json.loads(proc.stdout)
    names = {f["name"] for f in findings}
    assert {"platform", "cann", "torch", "torch_npu", "numpy", "combination"} <= names
    assert not names & {"npu", "driver"}
    assert proc.returncode == (1 if any(f["status"] == "fail" for f in findings) else 0)
    assert {f["status"] for f in findings} <= {"ok", "warn", "fail"}


def test_constraints_and_lines_subcommands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "c.txt"
    assert run("constraints", "--line", "cann8.3.rc1-910b", "-o", str(out)).returncode == 0
    assert out.read_text() == versions.constraints_text("cann8.3.rc1-910b")
    listed = run("lines").stdout.splitlines()
    assert [ln.split("\t")[0] for ln in listed] == versions.known_lines()


def test_help_explains_and_bad_line_is_refused() -> None:
    helptext = run("--help").stdout
    assert "known-good combinations" in helptext and "Exit status" in helptext
    bad = run("--line", "cann9-910")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_only_knows_every_finding_the_check_can_report():
    """--only refuses unknown names; the list it checks against must hold every name run_checks emits."""
    from npu_compat.env.__main__ import FINDINGS
    from npu_compat.env import check, host

    facts = host.gather(npu_smi=lambda: None, video=None)
    names = {f.name for f in check.run_checks(facts)} | {f.name for f in check.run_checks(facts, build=True)}
    assert names <= set(FINDINGS)


def test_constraints_to_a_link_replace_the_link_and_leave_its_target_alone(tmp_path, capsys):
    """``constraints -o X`` with X a symbolic link (to /etc/passwd, say, run as root) never writes through it."""
    from npu_compat.env.__main__ import main

    precious = tmp_path / "passwd"
    precious.write_text("root:x:0:0::/root:/bin/bash\n")
    link = tmp_path / "constraints.txt"
    link.symlink_to(precious)
    assert main(["constraints", "-o", str(link)]) == 0
    assert precious.read_text() == "root:x:0:0::/root:/bin/bash\n"
    assert not link.is_symlink() and link.read_text() == versions.constraints_text(None)


def test_only_with_an_empty_name_is_refused(capsys):
    from npu_compat.env.__main__ import main

    assert main(["--only", "platform,,torch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty name" in err
