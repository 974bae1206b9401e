"""The simulated npu's device in C++ (a TEST DOUBLE of torch_npu + CANN + the chip): build, cache, load.

``csrc/native_hooks.cpp`` is the PrivateUse1 backend itself: a device allocator over host memory, a
device guard for every simulated device, PrivateUse1 hooks (pinned host memory, a generator per
device), the kernels a device owns in C++ (empty, views, resize_, set_) and the ``npu_sim::`` ops the
Python fallback uses. On first use it is compiled with the system C++ compiler (``$CXX``, else
``g++``/``c++`` on ``PATH``) into a cache folder keyed by the source, torch's version and the command,
loaded with ctypes (its operator registrations run on load), and registered.

Without a compiler, or if the build fails, :func:`register` returns the reason and :func:`install
<npu_compat.sim.install>` refuses with one line that says what to install (docs/simulated-npu.md).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from npu_compat.atomic_files import atomic_path

try:
    import fcntl  # POSIX only: without it the build lock is skipped
except ImportError:
    fcntl = None  # type: ignore[assignment]

SOURCE = Path(__file__).resolve().parent / "csrc" / "native_hooks.cpp"
CACHE_ENV = "NPU_COMPAT_SIM_CACHE"  # a folder for the built library; default $XDG_CACHE_HOME or ~/.cache
LIBRARY_NAME = "native_hooks.so"
BUILD_TIMEOUT_S = 300


class BuildError(RuntimeError):
    """The native library could not be built; the message is one line (the compiler's first error)."""


@dataclass
class NativeHooks:
    """What :func:`register` found: the hooks and the device guard are in place, or why not."""

    available: bool
    reason: str | None = None  # why they are not (the first line of the error)
    path: Path | None = None  # the library loaded
    built_s: float | None = None  # seconds spent compiling in this process (None: taken from the cache)
    library: ctypes.CDLL | None = None

    def note(self) -> str | None:
        """The one line a user sees when the device cannot be built."""
        if self.available:
            return None
        return (f"the simulated npu needs its C++ device library, which is unavailable ({self.reason}). Install a "
                "C++ compiler (g++, e.g. apt-get install g++) or set CXX; see docs/simulated-npu.md, The device "
                "library")


_STATE: NativeHooks | None = None


def compiler() -> str | None:
    """The C++ compiler to use: ``$CXX`` (a name on PATH or a path), else ``g++`` or ``c++`` on PATH."""
    named = os.environ.get("CXX", "").strip()
    if named:
        return shutil.which(named)
    return shutil.which("g++") or shutil.which("c++")


def build_command(cxx: str, source: Path, output: Path) -> list[str]:
    """A plain shared-library build against the running torch (no ninja, no pybind, no Python headers).

    The include and library folders are those ``torch.utils.cpp_extension.include_paths()`` and
    ``library_paths()`` give for a CPU build, computed here without importing that module.
    """
    root = Path(torch.__file__).resolve().parent
    lib = root / "lib"
    abi = int(bool(torch._C._GLIBCXX_USE_CXX11_ABI))
    return [cxx, "-shared", "-fPIC", "-std=c++20", "-O2", f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
            "-I", str(root / "include"), str(source), "-o", str(output),
            "-L", str(lib), "-lc10", "-ltorch_cpu", f"-Wl,-rpath,{lib}"]


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "npu_compat" / "sim"


def library_path(cxx: str) -> Path:
    """Where the library for this source, torch and command lives: ``<cache>/<key>/native_hooks.so``."""
    command = build_command(cxx, SOURCE, Path(LIBRARY_NAME))
    key = hashlib.sha256(SOURCE.read_bytes() + "\0".join([torch.__version__, *command]).encode()).hexdigest()[:16]
    return cache_root() / key / LIBRARY_NAME


def build(cxx: str | None = None) -> tuple[Path, float | None]:
    """The native library, compiled unless cached; returns its path and the seconds compiling took (None if cached).

    Written atomically (temp file, then rename) under a lock, so ranks that start together build it once.
    """
    cxx = cxx or compiler()
    if cxx is None:
        named = os.environ.get("CXX", "").strip()
        raise BuildError(f"C++ compiler {named!r} (CXX) not found" if named else "no C++ compiler (g++) on PATH")
    target = library_path(cxx)
    if target.exists():
        return target, None
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / "build.lock"):
        if target.exists():  # another process built it while this one waited
            return target, None
        with atomic_path(target, suffix=".so") as tmp:  # renamed over target only if the build succeeds
            start = time.perf_counter()
            try:
                done = subprocess.run(build_command(cxx, SOURCE, Path(tmp)), capture_output=True, text=True,
                                      timeout=BUILD_TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired) as err:
                raise BuildError(f"{Path(cxx).name} could not run: {err}") from None
            if done.returncode != 0:
                raise BuildError(f"{Path(cxx).name} failed: {first_error(done.stderr or done.stdout)}")
            seconds = time.perf_counter() - start
    return target, seconds


def first_error(output: str) -> str:
    """The compiler's first error line (the first line saying 'error'), else its first line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "no output"


class _locked:
    """An exclusive advisory lock on ``path`` (fcntl); a no-op where fcntl does not exist."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = None

    def __enter__(self) -> "_locked":
        if fcntl is None:
            return self
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the lock


def register(device_count: int) -> NativeHooks:
    """Build (or find), load and register the hooks and a guard for ``device_count`` devices, once per
    process; call before the Python backend is set up.

    Never raises: on failure it returns an unavailable state whose ``note()`` says why.
    """
    global _STATE
    if _STATE is not None:
        return _STATE
    try:
        path, seconds = build()
        library = ctypes.CDLL(str(path))
        library.npu_sim_is_pinned_ptr.argtypes = [ctypes.c_void_p]
        library.npu_sim_is_pinned_ptr.restype = ctypes.c_int
        library.npu_sim_pinned_blocks.restype = ctypes.c_size_t
        library.npu_sim_pinned_bytes.restype = ctypes.c_size_t
        library.npu_sim_register_device_guard.argtypes = [ctypes.c_int]
        for name in ("npu_sim_device_bytes", "npu_sim_device_peak_bytes"):
            getattr(library, name).argtypes = [ctypes.c_int]
            getattr(library, name).restype = ctypes.c_int64
        library.npu_sim_reset_peak_bytes.argtypes = [ctypes.c_int]
        library.npu_sim_current_device.restype = ctypes.c_int
        library.npu_sim_set_current_device.argtypes = [ctypes.c_int]
        library.npu_sim_set_current_device.restype = ctypes.c_int
        hooks = library.npu_sim_register_hooks()
        if hooks != 1:
            raise BuildError("PrivateUse1 already has hooks in this process" if hooks == 0
                             else "registering the hooks raised")
        guard = library.npu_sim_register_device_guard(device_count)
        if guard != 1:
            raise BuildError("PrivateUse1 already has a device guard in this process" if guard == 0
                             else f"registering a device guard for {device_count} devices failed")
        _STATE = NativeHooks(True, path=path, built_s=seconds, library=library)
    except (BuildError, OSError, AttributeError) as err:
        _STATE = NativeHooks(False, reason=str(err).splitlines()[0] if str(err) else type(err).__name__)
    return _STATE


def state() -> NativeHooks | None:
    """What :func:`register` found in this process, or None before it ran."""
    return _STATE


def is_pinned_ptr(address: int) -> bool:
    """Whether ``address`` lies in a live block of the simulator's pinned allocator."""
    return bool(_STATE and _STATE.library and _STATE.library.npu_sim_is_pinned_ptr(address))


def device_bytes(index: int) -> tuple[int, int]:
    """(live, peak) bytes of device memory on ``npu:index``."""
    if not (_STATE and _STATE.library):
        return 0, 0
    return int(_STATE.library.npu_sim_device_bytes(index)), int(_STATE.library.npu_sim_device_peak_bytes(index))


def reset_peak(index: int) -> None:
    if _STATE and _STATE.library:
        _STATE.library.npu_sim_reset_peak_bytes(index)


def live_blocks() -> tuple[int, int]:
    """(blocks, bytes) the simulator's pinned allocator holds now."""
    if not (_STATE and _STATE.library):
        return 0, 0
    return int(_STATE.library.npu_sim_pinned_blocks()), int(_STATE.library.npu_sim_pinned_bytes())


__all__ = ["SOURCE", "CACHE_ENV", "BuildError", "NativeHooks", "compiler", "build_command", "cache_root",
           "library_path", "build", "first_error", "register", "state", "is_pinned_ptr", "live_blocks",
           "device_bytes", "reset_peak"]
