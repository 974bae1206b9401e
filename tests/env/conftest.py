"""Shared fixtures for tests/env: paths, and one real FFmpeg build per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV_DIR = REPO / "env"
CLIP_MP4 = REPO / "npu_compat" / "env" / "clips" / "halves_h264.mp4"
CLIP_MKV = Path(__file__).parent / "data" / "halves_h264.mkv"
FFMPEG_LIBS = ["avformat", "avfilter", "avcodec", "avutil", "avdevice", "swresample", "swscale"]
BUILD_TIMEOUT_S = 600


def _run_script(args: list[str], env: dict[str, str] | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, env=full_env, timeout=timeout,
                          check=False)


@pytest.fixture(scope="session")
def run_script():  # type: ignore[no-untyped-def]
    """Run an env/ script (list of args) with this interpreter as its PYTHON; returns the process."""
    return _run_script


@pytest.fixture(scope="session")
def built_ffmpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real FFmpeg built by env/build_ffmpeg.sh from Debian bullseye's ffmpeg source package.

    Needs apt with network, a C toolchain and make. As root it adds the bullseye deb-src line
    itself (--setup-debian-src); otherwise that line must already be configured.
    """
    for tool in ("apt-get", "cc", "make", "tar", "sha256sum"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: install build-essential and apt (see docs/env.md)")
    prefix = tmp_path_factory.mktemp("ffmpeg-prefix")
    work = tmp_path_factory.mktemp("ffmpeg-work")
    args = [str(ENV_DIR / "build_ffmpeg.sh"), "--source", "debian", "--prefix", str(prefix),
            "--workdir", str(work), "--no-ldconfig"]
    if os.geteuid() == 0:
        args.append("--setup-debian-src")
    proc = _run_script(args, timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, f"FFmpeg build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    shutil.rmtree(work, ignore_errors=True)  # the source tree is ~100 MB
    return prefix
