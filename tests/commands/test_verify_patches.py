"""The CLI end to end (subprocess): check passes on 0.1.4, bad input is one line + exit 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "verify_patches.py"


def _run(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=env)


def test_help_explains_every_command():
    proc = _run("--help")
    assert proc.returncode == 0
    for word in ("check", "apply", "matrix", "refresh", "scan", "pypi:sam3==X", "dir:PATH", "git:REPO@REV"):
        assert word in proc.stdout


def test_check_on_014_is_exact_and_imports():
    proc = _run("check", "--upstream", "pypi:sam3==0.1.4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "RESULT: OK" in proc.stdout and "import sam3 (CPU torch, triton and decord blocked): ok" in proc.stdout
    assert "offset" not in proc.stdout and "fuzz" not in proc.stdout


def test_apply_writes_patched_tree(tmp_path):
    proc = _run("apply", "--upstream", "pypi:sam3==0.1.4", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert 'device="cpu"' in (tmp_path / "out/sam3/model/position_encoding.py").read_text()


def _series(tmp_path: Path, diff: str) -> Path:
    (tmp_path / "x.patch").write_text("Description: x\nBase-Version: sam3==0.1.4\nUpstream-Status: Pending\n"
                                      "Reason: test\n---\n" + diff)
    (tmp_path / "series").write_text("x.patch\n")
    return tmp_path / "series"


@pytest.mark.parametrize("diff, words", [
    ("--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "leaves the tree"),
    ("--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "absolute"),
    ("--- a/sam3/__init__.py\n+++ b/sam3/__init__.py\n@@ -1,5 +1,5 @@\n-a\n+b\n", "malformed"),
    ("diff --git a/sam3/x.bin b/sam3/x.bin\nBinary files a/sam3/x.bin and b/sam3/x.bin differ\n", "not supported"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, diff, words):
    proc = _run("check", "--series", str(_series(tmp_path, diff)), "--upstream", "pypi:sam3==0.1.4",
                "--no-import-check")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_patch_that_no_longer_applies_fails_check(tmp_path):
    diff = ("--- a/sam3/model_builder.py\n+++ b/sam3/model_builder.py\n@@ -1,3 +1,3 @@\n"
            " # not the real first line\n-import os\n+import os  # x\n from typing import Optional\n")
    proc = _run("check", "--series", str(_series(tmp_path, diff)), "--upstream", "pypi:sam3==0.1.4",
                "--no-import-check")
    assert proc.returncode == 1 and "reject" in proc.stdout and "RESULT: FAIL" in proc.stdout


def test_bad_upstream_is_exit_2():
    proc = _run("check", "--upstream", "pypi:sam3")
    assert proc.returncode == 2 and "exact version" in proc.stderr


def test_matrix_matches_committed():
    proc = _run("matrix")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_scan_lists_uncovered_sites():
    proc = _run("scan")
    assert proc.returncode == 1 and "CUDA-specific lines not covered" in proc.stdout
    assert "sam3/" in proc.stdout


def test_refresh_from_a_dir_needs_a_real_base_version(tmp_path):
    proc = _run("refresh", "--upstream", f"dir:{tmp_path}", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "sam3").mkdir()
    proc = _run("refresh", "--upstream", f"dir:{tmp_path}", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "--as sam3==X" in proc.stderr
    proc = _run("refresh", "--upstream", f"dir:{tmp_path}", "--as", "dir:/x", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "sam3@<git rev>" in proc.stderr and not (tmp_path / "out").exists()


def test_matrix_row_for_a_dir_needs_its_revision(tmp_path):
    (tmp_path / "sam3").mkdir()
    proc = _run("matrix", "--upstream", f"dir:{tmp_path}", "--as", "sam3==9.9")
    assert proc.returncode == 2 and "git revision" in proc.stderr
    proc = _run("matrix", "--upstream", f"dir:{tmp_path}", "--as", "sam3@abcdef0")
    assert proc.returncode == 2 and "full 40-digit commit id" in proc.stderr


@pytest.mark.parametrize("args", [
    ("check", "--upstream", "git:https://github.com/facebookresearch/sam3@main", "--no-import-check"),
    ("refresh", "--upstream", "pypi:sam3==0.1.4", "--out", "{tmp}/refreshed"),
])
def test_git_missing_from_path_is_one_line_naming_the_fix(tmp_path, args):
    bin_dir = tmp_path / "bin"  # a PATH with no git on it
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir), "PYTHONPATH": str(REPO)}
    proc = _run(*[a.format(tmp=tmp_path) for a in args], env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "git program" in proc.stderr and "install git" in proc.stderr
    assert not (tmp_path / "refreshed").exists()
