"""Read what the environment check judges: OS, Ascend driver/CANN files, npu-smi, package versions,
and whether decord decodes a clip. Reading only; ``check.py`` decides what is ok.

Never imports torch_npu (it needs CANN) or torch: versions come from importlib.metadata, and
torch's CUDA flavour from ``torch/version.py`` read as text.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

ASCEND = "usr/local/Ascend"
DRIVER_INFO = f"{ASCEND}/driver/version.info"
# CANN layouts: ascend-toolkit (<= 8.3) and cann (newer images); read from the vendor's docs.
SET_ENV_SCRIPTS = (f"{ASCEND}/ascend-toolkit/set_env.sh", f"{ASCEND}/cann/set_env.sh")
TOOLKIT_HOMES = (f"{ASCEND}/ascend-toolkit/latest", f"{ASCEND}/cann")
PACKAGES = ("torch", "torch-npu", "torchvision", "triton-ascend", "triton", "numpy", "sam3",
            "decord", "decord2", "opencv-python-headless", "opencv-python")
CLIP = Path(__file__).with_name("clips") / "halves_h264.mp4"

_VIDEO_PROBE = r"""
import json, sys
out = {"decord": None, "frames": None, "top": None, "error": None}
try:
    import decord
    out["decord"] = getattr(decord, "__version__", "?")
    vr = decord.VideoReader(sys.argv[1], ctx=decord.cpu(0))
    out["frames"] = len(vr)
    frame = vr[0].asnumpy()
    out["top"] = [float(frame[:, :32].mean()), float(frame[:, 32:].mean())]
except Exception as exc:
    out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
print(json.dumps(out))
"""


@dataclass(frozen=True)
class VideoProbe:
    """What decord did with the bundled H.264 clip (64x48, 12 frames, halves gray 16 / 235)."""

    decord: str | None = None
    frames: int | None = None
    halves: tuple[float, float] | None = None
    error: str | None = None


@dataclass(frozen=True)
class HostFacts:
    """Everything the check judges. Built from the real host, or from recorded fixtures."""

    system: str
    machine: str
    os_name: str
    python: str
    driver_version: str | None
    cann_version: str | None
    cann_file: str | None
    set_env_script: str | None
    set_env_sourced: bool
    npu_smi: str | None
    packages: Mapping[str, str | None] = field(default_factory=dict)
    torch_cuda: str | None = None
    video: VideoProbe | None = None


def read_key(path: Path, keys: tuple[str, ...]) -> str | None:
    """The value of the first ``key=value`` line whose key is in *keys* (case-insensitive)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    wanted = {k.lower() for k in keys}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() in wanted and value.strip():
            return value.strip()
    return None


def find_cann(root: Path, env: Mapping[str, str], machine: str) -> tuple[str | None, str | None]:
    """(CANN version, file it came from), looking under ASCEND_TOOLKIT_HOME then the defaults."""
    homes = [Path(env[k]).relative_to("/") for k in ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")
             if env.get(k, "").startswith("/")] + [Path(h) for h in TOOLKIT_HOMES]
    for home in homes:
        for rel, keys in ((f"{machine}-linux/ascend_toolkit_install.info", ("version",)),
                          ("compiler/version.info", ("Version",))):
            version = read_key(root / home / rel, keys)
            if version:
                return version, "/" + str(home / rel)
    return None, None


def os_name(root: Path) -> str:
    name = read_key(root / "etc/os-release", ("PRETTY_NAME",))
    return name.strip('"') if name else platform.platform()


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def torch_cuda_version() -> str | None:
    """CUDA version torch was built for ('13.0'), None for CPU/NPU builds or no torch."""
    try:
        text = metadata.distribution("torch").locate_file("torch/version.py").read_text()
    except (metadata.PackageNotFoundError, OSError):
        return None
    match = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([\d.]+)['\"]", text, re.M)
    return match.group(1) if match else None


def run_npu_smi(timeout: float = 30) -> str | None:
    """``npu-smi info`` output, or None when npu-smi is absent or fails."""
    exe = shutil.which("npu-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def probe_video(clip: Path = CLIP, timeout: float = 120) -> VideoProbe:
    """Import decord in a subprocess (a broken FFmpeg can crash it) and decode *clip*."""
    try:
        proc = subprocess.run([sys.executable, "-c", _VIDEO_PROBE, str(clip)], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return VideoProbe(error=f"decord probe did not finish: {exc}")
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return VideoProbe(error=f"decord probe crashed: {last}")
    halves = tuple(out["top"]) if out.get("top") else None
    return VideoProbe(decord=out["decord"], frames=out["frames"], halves=halves,  # type: ignore[arg-type]
                      error=out["error"])


def gather(root: Path = Path("/"), env: Mapping[str, str] | None = None,
           npu_smi: Callable[[], str | None] = run_npu_smi,
           packages: Callable[[str], str | None] = installed_version,
           torch_cuda: Callable[[], str | None] = torch_cuda_version,
           video: Callable[[], VideoProbe] | None = probe_video,
           machine: str | None = None, system: str | None = None) -> HostFacts:
    """Collect HostFacts. Tests pass a fixture *root* and recorded callables (NPU-host doubles)."""
    env = os.environ if env is None else env
    machine = machine or platform.machine()
    cann, cann_file = find_cann(root, env, machine)
    set_env = next(("/" + s for s in SET_ENV_SCRIPTS if (root / s).is_file()), None)
    sourced = bool(env.get("ASCEND_TOOLKIT_HOME") or env.get("ASCEND_HOME_PATH"))
    return HostFacts(
        system=system or platform.system(), machine=machine, os_name=os_name(root),
        python=".".join(map(str, sys.version_info[:3])),
        driver_version=read_key(root / DRIVER_INFO, ("Version",)),
        cann_version=cann, cann_file=cann_file, set_env_script=set_env, set_env_sourced=sourced,
        npu_smi=npu_smi(), packages={d: packages(d) for d in PACKAGES}, torch_cuda=torch_cuda(),
        video=video() if video else None)
