"""Upstream sources: pypi (downloaded once, cached), dir:, git:, and clear errors."""

import subprocess

import pytest

from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.upstream import CACHE_ENV, cache_dir, resolve_source, wheel_for


def test_pypi_wheel_cached_once(sam3_014):
    wheel = wheel_for("0.1.4")
    assert wheel.parent == cache_dir() / "wheels"
    stamp = wheel.stat().st_mtime_ns
    assert resolve_source("pypi:sam3==0.1.4") == sam3_014
    assert wheel_for("0.1.4").stat().st_mtime_ns == stamp  # not downloaded again


def test_cache_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_dir_and_git_sources(sam3_014, tmp_path):
    assert resolve_source(f"dir:{sam3_014}") == sam3_014
    assert resolve_source(f"dir:{sam3_014 / 'sam3'}") == sam3_014
    repo = tmp_path / "repo"
    (repo / "sam3").mkdir(parents=True)
    (repo / "sam3" / "__init__.py").write_text("v = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    subprocess.run(git + ["tag", "v1"], check=True)
    tree = resolve_source(f"git:{repo}@v1")
    assert (tree / "sam3" / "__init__.py").read_text() == "v = 1\n"


@pytest.mark.parametrize("source, words", [
    ("pypi:sam3", "exact version"), ("dir:/nonexistent", "no sam3/"), ("ftp:x", "not understood"),
])
def test_bad_sources_are_one_line_errors(source, words):
    with pytest.raises(PatchError, match=words) as err:
        resolve_source(source)
    assert "\n" not in str(err.value)
