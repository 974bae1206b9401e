"""Upstream sam3 trees: `pypi:sam3==X` (wheel, downloaded once, cached), `dir:PATH`,
`git:REPO@REV`, and `all` = every release on PyPI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from packaging.version import Version

from npu_compat.patchset.errors import PatchError

CACHE_ENV = "NPU_COMPAT_UPSTREAM_CACHE"
PACKAGE = "sam3"


def cache_dir() -> Path:
    """$NPU_COMPAT_UPSTREAM_CACHE, else ~/.cache/npu_compat/upstream."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "npu_compat" / "upstream")
    path.mkdir(parents=True, exist_ok=True)
    return path


def pypi_versions(package: str = PACKAGE) -> list[str]:
    """Every release of `package` on PyPI, oldest first (PyPI JSON API, then `pip index`)."""
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{package}/json", timeout=30) as resp:
            releases = json.load(resp)["releases"]
        versions = [v for v, files in releases.items() if files]
    except Exception:  # noqa: BLE001 - fall back to pip's own index access (proxies, mirrors)
        proc = subprocess.run([sys.executable, "-m", "pip", "index", "versions", package],
                              capture_output=True, text=True)
        line = next((l for l in proc.stdout.splitlines() if l.startswith("Available versions:")), None)
        if line is None:
            raise PatchError(f"cannot list {package} releases on PyPI ({proc.stderr.strip()[-200:]}); "
                             "check network access or pass --upstream pypi:sam3==X") from None
        versions = [v.strip() for v in line.split(":", 1)[1].split(",")]
    return sorted(versions, key=Version)


def wheel_for(version: str, package: str = PACKAGE) -> Path:
    """The cached wheel of `package==version`, downloaded with `pip download --no-deps` once."""
    wheels = cache_dir() / "wheels"
    wheels.mkdir(exist_ok=True)
    found = sorted(wheels.glob(f"{package}-{version}-*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=wheels) as tmp:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                               "--disable-pip-version-check", "-q", "-d", tmp, f"{package}=={version}"],
                              capture_output=True, text=True)
        got = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not got:
            tail = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise PatchError(f"cannot download {package}=={version} from PyPI ({tail}); check the version and network")
        final = wheels / got[0].name
        os.replace(got[0], final)
    return final


def extracted_wheel(version: str, package: str = PACKAGE) -> Path:
    """Folder holding the wheel's contents (so `sam3/` is inside); extracted once, atomically."""
    target = cache_dir() / "trees" / f"{package}-{version}"
    if target.is_dir():
        return target
    wheel = wheel_for(version, package)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise PatchError(f"{wheel.name}: unsafe member {member!r}; refusing to extract")
        archive.extractall(tmp)
    try:
        os.replace(tmp, target)
    except OSError:  # another process extracted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def git_tree(repo: str, rev: str) -> Path:
    """A checkout of `repo` at `rev` (clone cached by repo URL)."""
    key = hashlib.sha256(repo.encode()).hexdigest()[:16]
    clone = cache_dir() / "git" / key
    if not clone.is_dir():
        clone.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["git", "clone", "--quiet", "--bare", repo, str(clone)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise PatchError(f"git clone {repo} failed: {proc.stderr.strip().splitlines()[-1:]}; check the URL")
    proc = subprocess.run(["git", "-C", str(clone), "archive", "--format=tar", rev], capture_output=True)
    if proc.returncode != 0:
        raise PatchError(f"{repo}: revision {rev!r} not found ({proc.stderr.decode().strip()[-120:]}); "
                         "pass git:REPO@REV with an existing commit, tag or branch")
    target = Path(tempfile.mkdtemp(prefix="npu_compat_git_"))
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target


def resolve_source(source: str) -> Path:
    """Folder that contains `sam3/` for `pypi:sam3==X`, `dir:PATH` or `git:REPO@REV`."""
    if source.startswith("pypi:"):
        spec = source[len("pypi:"):]
        if "==" not in spec:
            raise PatchError(f"--upstream {source!r}: give an exact version, e.g. pypi:sam3==0.1.4")
        package, version = (part.strip() for part in spec.split("==", 1))
        return extracted_wheel(version, package)
    if source.startswith("dir:"):
        path = Path(source[len("dir:"):]).expanduser()
        if path.name == PACKAGE and (path / "__init__.py").exists():
            path = path.parent
        if not (path / PACKAGE).is_dir():
            raise PatchError(f"--upstream {source!r}: {path} has no {PACKAGE}/ folder; point at the folder holding it")
        return path
    if source.startswith("git:"):
        spec = source[len("git:"):]
        repo, sep, rev = spec.rpartition("@")
        if not sep or not repo:
            repo, rev = spec, "HEAD"
        return git_tree(repo, rev)
    raise PatchError(f"--upstream {source!r} not understood; use pypi:sam3==X, dir:PATH, git:REPO@REV or all")
