"""Tests for env/gen_constraints.py: the Dockerfile's and the scripts' only way to read pins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from npu_compat.env import versions

SCRIPT = str(Path(__file__).resolve().parents[2] / "env" / "gen_constraints.py")


def gen(*args: str) -> subprocess.CompletedProcess[str]:
    # -I: isolated, as in the Dockerfile before anything is installed (no PYTHONPATH, no site).
    return subprocess.run([sys.executable, "-I", SCRIPT, *args], capture_output=True, text=True,
                          timeout=60, cwd="/")


@pytest.mark.parametrize("line", versions.known_lines())
def test_constraints_match_the_library(line: str, tmp_path: Path) -> None:
    assert gen("--line", line).stdout == versions.constraints_text(line)
    out = tmp_path / "c.txt"
    assert gen("--line", line, "-o", str(out)).returncode == 0
    assert out.read_text() == versions.constraints_text(line)


def test_fields_and_default_line() -> None:
    line = versions.get_line()
    assert gen().stdout == versions.constraints_text(line.name)
    assert gen("--field", "default_line").stdout == f"{line.name}\n"
    assert gen("--field", "torch_index").stdout == f"{line.torch_index}\n"
    assert gen("--field", "ffmpeg.sha256").stdout == f"{versions.ffmpeg_spec()['sha256']}\n"
    assert gen("--list").stdout.split() == versions.known_lines()


def test_errors_are_one_line() -> None:
    bad_line = gen("--line", "cann9-910")
    assert bad_line.returncode == 2 and bad_line.stderr.startswith("error: unknown line 'cann9-910'")
    bad_field = gen("--field", "nope")
    assert bad_field.returncode == 1 and bad_field.stderr.strip() == "error: no field 'nope' in the version table"


def test_loads_versions_without_importing_the_package() -> None:
    """Before torch or the kit is installed the package cannot be imported; the script must not try."""
    check = subprocess.run([sys.executable, "-I", "-c",
                            f"import runpy, sys; sys.argv = ['x', '--list']\n"
                            f"try:\n    runpy.run_path({SCRIPT!r}, run_name='__main__')\n"
                            f"except SystemExit:\n    pass\n"
                            f"assert 'npu_compat' not in sys.modules, 'imported the package'\n"
                            f"assert 'npu_compat_env_versions' in sys.modules"],
                           capture_output=True, text=True, cwd="/")
    assert check.returncode == 0, check.stderr
