"""Tests for env/build_decord.sh.

The real decord build needs decord's source, which CI cannot fetch (no sdist on PyPI, no
network to GitHub): it runs only when DECORD_SRC points at a checkout with submodules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / "env" / "build_decord.sh")
CLIP = REPO / "npu_compat" / "env" / "clips" / "halves_h264.mp4"
NEEDS_SRC = pytest.mark.skipif(not os.environ.get("DECORD_SRC"),
                               reason="CI cannot fetch decord's source; set DECORD_SRC")


def test_refuses_to_run_without_decord_src(run_script) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k != "DECORD_SRC"}
    proc = subprocess.run([SCRIPT, "--dry-run"], capture_output=True, text=True, env=env)
    assert proc.returncode != 0 and "DECORD_SRC is not set" in proc.stderr


def test_refuses_ffmpeg_5_using_real_bookworm_headers(run_script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Debian bookworm's libavformat-dev is FFmpeg 5.1: its real headers must be refused."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.fail("apt-get and dpkg-deb are needed to fetch bookworm's libavformat-dev")
    def download() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["apt-get", "download", "libavformat-dev"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    got = download()
    if got.returncode != 0 and os.geteuid() == 0:  # a fresh machine may have no apt lists yet
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300)
        got = download()
    assert got.returncode == 0, f"apt-get download libavformat-dev failed: {got.stderr[-500:]}"
    deb = next(tmp_path.glob("libavformat-dev_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "x")], check=True)
    headers = next((tmp_path / "x").rglob("libavformat/version.h")).parent
    prefix = tmp_path / "ffmpeg5"
    shutil.copytree(headers, prefix / "include" / "libavformat")
    proc = run_script([SCRIPT, "--dry-run", "--ffmpeg-prefix", str(prefix)],
                      env={"DECORD_SRC": str(tmp_path)})
    assert proc.returncode != 0 and proc.stdout == ""
    assert "is 5.x (libavformat 59)" in proc.stderr
    assert "decord builds only against FFmpeg <= 4.x" in proc.stderr


def test_dry_run_plan_against_the_built_ffmpeg(run_script, built_ffmpeg: Path,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    proc = run_script([SCRIPT, "--dry-run", "--ffmpeg-prefix", str(built_ffmpeg)],
                      env={"DECORD_SRC": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    plan = dict(ln.split(": ", 1) for ln in proc.stdout.splitlines()[1:])
    assert plan["ffmpeg"] == f"{built_ffmpeg} (FFmpeg 4.x, libavformat 58)"
    cmake = plan["cmake"].split()
    assert "-DUSE_CUDA=0" in cmake and f"-DFFMPEG_DIR={built_ffmpeg}" in cmake
    assert f"-DCMAKE_INSTALL_RPATH={built_ffmpeg}/lib" in cmake
    assert plan["install"].endswith("-m pip install --no-deps --no-build-isolation <src>/python")
    assert sorted(tmp_path.rglob("*")) == before


def test_missing_ffmpeg_names_the_fix(run_script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = run_script([SCRIPT, "--dry-run", "--ffmpeg-prefix", str(tmp_path)],
                      env={"DECORD_SRC": str(tmp_path)})
    assert proc.returncode != 0 and "run env/build_ffmpeg.sh --prefix" in proc.stderr


@NEEDS_SRC
def test_decord_source_build_decodes_h264(run_script, built_ffmpeg: Path,  # type: ignore[no-untyped-def]
                                          tmp_path: Path) -> None:
    """Real decord build against the real FFmpeg build, then real decoding through decord."""
    work = tmp_path / "decord"
    proc = run_script([SCRIPT, "--ffmpeg-prefix", str(built_ffmpeg), "--workdir", str(work),
                       "--no-install"], timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {**os.environ, "PYTHONPATH": str(work / "src" / "python")}
    env.pop("LD_LIBRARY_PATH", None)
    code = ("import json, sys, decord; vr = decord.VideoReader(sys.argv[1]); f = vr[3].asnumpy(); "
            "print(json.dumps([len(vr), list(f.shape), float(f[:, :32].mean()), float(f[:, 32:].mean())]))")
    out = subprocess.run([sys.executable, "-c", code, str(CLIP)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    frames, shape, left, right = json.loads(out.stdout.strip().splitlines()[-1])
    assert frames == 12 and shape == [48, 64, 3]
    assert abs(left - (16 + 16 * 3)) < 4 and abs(right - (235 - 16 * 3)) < 4
    probe = subprocess.run([sys.executable, "-c", "from npu_compat.env import host; "
                            "print(host.probe_video())"], capture_output=True, text=True, env={
                                **env, "PYTHONPATH": f"{env['PYTHONPATH']}:{REPO}"}, timeout=120)
    assert "frames=12" in probe.stdout and "error=None" in probe.stdout, probe.stdout + probe.stderr
