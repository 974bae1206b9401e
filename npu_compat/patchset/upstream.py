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
from npu_compat.patchset.gitdiff import require_git

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


# Git revisions the repository knows, and the variable naming a snapshot of each (a folder holding
# its sam3/, e.g. from `git archive REV sam3 pyproject.toml | tar -x`). CI cannot reach GitHub.
SNAPSHOT_ENVS: dict[str, str] = {"99d02f2": "SAM3_MAIN_SRC", "96914d2": "SAM3_31_SRC"}


def snapshot_for(rev: str) -> Path | None:
    """The snapshot folder of a known revision from its variable, or None when unset."""
    for known, env in SNAPSHOT_ENVS.items():
        if rev.startswith(known) or known.startswith(rev):
            value = os.environ.get(env)
            if value and (Path(value) / PACKAGE).is_dir():
                return Path(value)
    return None


def _git_clone(repo: str) -> Path:
    """A bare clone of `repo` (a local bare repository is used as is); cached by repo URL."""
    require_git("a git: upstream", " or pass --upstream pypi:sam3==X or dir:PATH")
    if Path(repo).is_dir() and (Path(repo) / "HEAD").is_file() and (Path(repo) / "objects").is_dir():
        return Path(repo)
    key = hashlib.sha256(repo.encode()).hexdigest()[:16]
    clone = cache_dir() / "git" / key
    if not clone.is_dir():
        clone.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["git", "clone", "--quiet", "--bare", repo, str(clone)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise PatchError(f"git clone {repo} failed: {proc.stderr.strip().splitlines()[-1:]}; check the URL")
    return clone


def git_revision(repo: str, rev: str) -> tuple[str, str]:
    """(full commit id, commit date YYYY-MM-DD) of `rev` in `repo`."""
    proc = subprocess.run(["git", "--git-dir", str(_git_clone(repo)), "log", "-1", "--format=%H %cs", f"{rev}^{{commit}}"],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise PatchError(f"{repo}: revision {rev!r} not found; pass git:REPO@REV with an existing commit, tag or branch")
    sha, date = proc.stdout.split()
    return sha, date


def split_git_source(source: str) -> tuple[str, str]:
    """(repo, rev) of `git:REPO@REV` (rev defaults to HEAD)."""
    repo, sep, rev = source[len("git:"):].rpartition("@")
    if not sep or not repo:
        repo, rev = source[len("git:"):], "HEAD"
    return repo, rev


def git_tree(repo: str, rev: str) -> Path:
    """A checkout of `repo` at `rev` (clone cached by repo URL; a local bare repository is read in place)."""
    clone = _git_clone(repo)
    proc = subprocess.run(["git", "--git-dir", str(clone), "archive", "--format=tar", rev, PACKAGE],
                          capture_output=True)
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
            raise PatchError(f"--upstream {source!r} names no version; give an exact version, e.g. pypi:sam3==0.1.4")
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
        return git_tree(*split_git_source(source))
    raise PatchError(f"--upstream {source!r} not understood; use pypi:sam3==X, dir:PATH, git:REPO@REV or all")


def source_label(source: str, as_label: str | None = None) -> str:
    """The Base-Version a tree from `source` is: `sam3==X` for pypi:, `sam3@<rev>` for git:
    (the commit `rev` resolves to); a dir: tree cannot tell, so `as_label` must say it."""
    from npu_compat.patchset.series import base_label, parse_base

    if as_label:
        parse_base(as_label)  # PatchError if malformed
        return as_label
    if source.startswith("pypi:") and "==" in source:
        package, version = (part.strip() for part in source[len("pypi:"):].split("==", 1))
        return base_label(package, version=version)
    if source.startswith("git:"):
        sha, _ = git_revision(*split_git_source(source))
        return base_label(PACKAGE, rev=sha)
    raise PatchError(f"--upstream {source!r} does not say which sam3 it is; add --as sam3==X or --as sam3@<git rev>")


def base_source(base_version: str) -> str:
    """The --upstream source of a series' Base-Version: the wheel of `sam3==X`, or the snapshot
    of a known `sam3@REV` from its variable."""
    from npu_compat.patchset.series import parse_base

    package, version, rev = parse_base(base_version)
    if version:
        return f"pypi:{package}=={version}"
    assert rev is not None
    snapshot = snapshot_for(rev)
    if snapshot is None:
        env = next((e for k, e in SNAPSHOT_ENVS.items() if rev.startswith(k) or k.startswith(rev)), None)
        hint = f"set {env} to a snapshot of it or " if env else ""
        raise PatchError(f"the series is based on {base_version}: {hint}pass --base dir:PATH (a folder holding "
                         "sam3/ at that revision)")
    return f"dir:{snapshot}"
