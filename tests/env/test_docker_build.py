"""Tests for env/docker_build.sh --dry-run (no Docker engine runs on these machines)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from npu_compat.env import versions

REPO = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / "env" / "docker_build.sh")


@pytest.mark.parametrize("line", versions.known_lines())
def test_dry_run_takes_base_image_and_line_from_the_table(run_script, line: str) -> None:  # type: ignore[no-untyped-def]
    proc = run_script([SCRIPT, "--dry-run", "--line", line, "--video", "none", "--",
                       "--build-arg", "DECORD_SRC=third_party/decord"])
    assert proc.returncode == 0, proc.stderr
    cmd = shlex.split(proc.stdout)
    assert cmd[:4] == ["docker", "build", "--platform", "linux/arm64"]
    assert f"BASE_IMAGE={versions.get_line(line).base_image}" in cmd
    assert f"LINE={line}" in cmd and "VIDEO=none" in cmd and f"npu-compat:{line}" in cmd
    assert cmd[cmd.index("-f") + 1] == str(REPO / "env" / "Dockerfile") and cmd[-1] == str(REPO)
    assert "DECORD_SRC=third_party/decord" in cmd


def test_refuses_the_seed_s_910_image(run_script) -> None:  # type: ignore[no-untyped-def]
    seed = "swr.cn-south-1.myhuaweicloud.com/ascendhub/cann:8.3.rc1.alpha001-910-openeuler22.03-py3.11"
    proc = run_script([SCRIPT, "--dry-run"], env={"BASE_IMAGE": seed})
    assert proc.returncode != 0 and proc.stdout == ""
    assert "is not a -910b- tag" in proc.stderr and "910A" in proc.stderr


def test_refuses_unknown_line_and_video(run_script) -> None:  # type: ignore[no-untyped-def]
    assert "unknown line 'nope'" in run_script([SCRIPT, "--dry-run", "--line", "nope"]).stderr
    assert "--video must be" in run_script([SCRIPT, "--dry-run", "--video", "gpu"]).stderr
