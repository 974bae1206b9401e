"""Tests for env/build_ffmpeg.sh: its plan, its refusals, and one real build that decodes H.264.

The real build (test_debian_source_build_decodes_h264) compiles FFmpeg from Debian bullseye's
ffmpeg source package, then compiles env/decode_check.c against it and decodes a committed
H.264 clip through the same avformat/avcodec/avfilter path decord uses. Nothing is faked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from npu_compat.env import versions

REPO = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / "env" / "build_ffmpeg.sh")
CLIPS = [REPO / "npu_compat" / "env" / "clips" / "halves_h264.mp4",
         Path(__file__).parent / "data" / "halves_h264.mkv"]
LIBS = ["avformat", "avfilter", "avcodec", "avutil", "avdevice", "swresample", "swscale"]


def plan(run_script, *args: str, **env: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    proc = run_script([SCRIPT, "--dry-run", *args], env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("PLAN build_ffmpeg.sh")
    return dict(line.split(": ", 1) for line in proc.stdout.splitlines()[1:])


def tree(path: Path) -> list[str]:
    return sorted(str(p) for p in path.rglob("*"))


@pytest.mark.parametrize("source", [["--source", "url"], ["--source", "debian"],
                                    ["--tarball", "ffmpeg-4.4.4.tar.xz"]])
def test_dry_run_plan_configures_what_decord_needs(run_script, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                   source: list[str]) -> None:
    before, apt_before = tree(tmp_path), tree(Path("/etc/apt"))
    prefix, work = tmp_path / "prefix", tmp_path / "work"
    got = plan(run_script, *source, "--prefix", str(prefix), "--workdir", str(work))
    flags = got["configure"].split()
    spec = versions.ffmpeg_spec()
    for lib in LIBS:  # decord's CMake links all seven by name
        assert f"--enable-{lib}" in flags and f"--disable-{lib}" not in flags
    opt = {f.split("=", 1)[0]: f.split("=", 1)[1].split(",") for f in flags if "=" in f}
    assert {"buffer", "buffersink", "scale", "transpose"} <= set(opt["--enable-filter"])
    assert {"h264", "hevc", "mpeg4", "vp9", "mjpeg"} <= set(opt["--enable-decoder"])
    assert any(d.startswith("av1") for d in opt["--enable-decoder"])
    assert {"mov", "matroska", "avi", "mpegts"} <= set(opt["--enable-demuxer"])
    assert opt["--prefix"] == [str(prefix)]
    assert "--enable-shared" in flags and "--disable-static" in flags
    assert f"-Wl,-rpath,{prefix}/lib" in got["configure"] and got["rpath"] == f"{prefix}/lib"
    if source[-1] == "debian":
        assert got["sha256"] == spec["debian_orig_sha256"]
        assert spec["debian_version"] in got["fetch"] and got["version"].startswith("4.3.")
    else:
        assert got["sha256"] == spec["sha256"] and got["version"].startswith(spec["version"])
    if source[-1] == "url":
        assert got["fetch"] == f"curl -fL {spec['url']}"
    # No side effects: nothing created, apt untouched.
    assert tree(tmp_path) == before and not prefix.exists() and not work.exists()
    assert tree(Path("/etc/apt")) == apt_before


def test_dry_run_names_the_apt_setup_only_when_asked(run_script) -> None:  # type: ignore[no-untyped-def]
    assert "apt-setup" not in plan(run_script, "--source", "debian")
    setup = plan(run_script, "--source", "debian", "--setup-debian-src")["apt-setup"]
    assert versions.ffmpeg_spec()["debian_sources"] in setup


def test_refuses_ffmpeg_5_with_the_reason(run_script) -> None:  # type: ignore[no-untyped-def]
    proc = run_script([SCRIPT, "--dry-run"], env={"FFMPEG_VERSION": "5.1.4",
                                                 "FFMPEG_SHA256": "0" * 64})
    assert proc.returncode != 0 and proc.stdout == ""
    assert "decord builds only against FFmpeg <= 4.x" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_override_needs_version_and_sha_together(run_script) -> None:  # type: ignore[no-untyped-def]
    proc = run_script([SCRIPT, "--dry-run"], env={"FFMPEG_VERSION": "4.4.5"})
    assert proc.returncode != 0 and "FFMPEG_SHA256 together" in proc.stderr
    ok = plan(run_script, FFMPEG_VERSION="4.4.5", FFMPEG_SHA256="a" * 64)
    assert ok["version"].startswith("4.4.5") and ok["sha256"] == "a" * 64


def test_wrong_tarball_is_refused_before_building(run_script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake = tmp_path / "ffmpeg-4.4.4.tar.xz"
    fake.write_bytes(b"not ffmpeg")
    proc = run_script([SCRIPT, "--tarball", str(fake), "--prefix", str(tmp_path / "p"),
                       "--workdir", str(tmp_path / "w"), "--no-ldconfig"])
    assert proc.returncode != 0
    assert "sha256" in proc.stderr and versions.ffmpeg_spec()["sha256"] in proc.stderr
    assert not (tmp_path / "p").exists()


def test_unknown_option_fails_with_usage(run_script) -> None:  # type: ignore[no-untyped-def]
    proc = run_script([SCRIPT, "--frobnicate"])
    assert proc.returncode != 0 and "unknown option --frobnicate" in proc.stderr
    assert "Usage: env/build_ffmpeg.sh" in proc.stderr


def test_debian_source_build_decodes_h264(built_ffmpeg: Path, tmp_path: Path) -> None:
    """Real build from bullseye's ffmpeg 4.3 source, then a real decode of an H.264 clip."""
    libdir = built_ffmpeg / "lib"
    for lib in LIBS:
        assert list(libdir.glob(f"lib{lib}.so.*")), f"lib{lib} was not built"
    assert list(libdir.glob("libswscale.so.5*")), "decord's wheels and docs expect libswscale.so.5"
    exe = tmp_path / "decode_check"
    subprocess.run(["cc", "-O1", "-Wall", "-Werror", "-Wno-deprecated-declarations",
                    str(REPO / "env" / "decode_check.c"), "-o", str(exe),
                    f"-I{built_ffmpeg}/include", f"-L{libdir}", f"-Wl,-rpath,{libdir}",
                    *[f"-l{lib}" for lib in LIBS]], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}  # rpath must suffice
    for clip in CLIPS:
        out = subprocess.run([str(exe), str(clip)], capture_output=True, text=True, env=env,
                             timeout=60, check=True).stdout
        assert out.startswith("codec=h264 ") and "in=64x48" in out, out
        frames = re.findall(r"frame=(\d+) out=(\d+)x(\d+) top=([\d.]+) bottom=([\d.]+)", out)
        assert f"frames={len(frames)}" in out and len(frames) == 12, out
        for i, width, height, top, bottom in frames:
            # scale to 32x24, then transpose clockwise: 24 wide, 32 high; left half on top.
            assert (int(width), int(height)) == (24, 32)
            assert abs(float(top) - (16 + 16 * int(i))) < 4, out
            assert abs(float(bottom) - (235 - 16 * int(i))) < 4, out


def test_built_libraries_find_each_other_without_ldconfig(built_ffmpeg: Path) -> None:
    """The rpath is set, so libavformat resolves libavcodec from the prefix, not the system."""
    if shutil.which("ldd") is None:
        pytest.skip("ldd not available")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run(["ldd", str(next((built_ffmpeg / "lib").glob("libavformat.so.*")))],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "not found" not in out, out
    assert f"{built_ffmpeg}/lib/libavcodec.so" in out, out
