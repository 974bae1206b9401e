"""Everything that touches torch_npu. This is the ONLY module in the kit that imports it.

torch_npu cannot be imported without CANN, and refuses to load beside a CUDA build of torch,
so every entry point here checks first and turns failures into one-line errors with the fix.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from packaging.version import InvalidVersion, Version

from npu_compat.errors import TargetError
from npu_compat.simulation import SIMULATE_ENV, TARGET_NOTES, simulated_version  # noqa: F401 (TARGET_NOTES: npu.TARGET_NOTES)

_LOADED: ModuleType | None = None
# the simulated npu's stand-in torch_npu (a test double of the Ascend stack); a path, never imported here
SIM_STAND_IN = Path(__file__).resolve().parent / "sim" / "stand_in"


class SimulateAction(argparse.Action):
    """``--simulate torch_npu==X``: check the spec, then set ``NPU_COMPAT_SIMULATE`` (child processes inherit it)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        try:
            simulated_version({SIMULATE_ENV: str(values)})
        except TargetError as err:
            raise argparse.ArgumentError(self, str(err)) from None
        os.environ[SIMULATE_ENV] = str(values)
        setattr(namespace, self.dest, str(values))


def backend_label() -> str:
    """What runs behind device 'npu': ``simulated npu (torch_npu X)`` or ``torch_npu X``."""
    sim = simulated_version()
    if sim:
        return f"simulated npu (torch_npu {sim})"
    return f"torch_npu {installed_torch_npu_version() or '(not installed)'}"


def installed_torch_npu_version() -> str | None:
    """torch_npu's version from its metadata, without importing it (import needs CANN).

    Under simulation, the simulated release.
    """
    sim = simulated_version()
    if sim:
        return sim
    try:
        return importlib.metadata.version("torch_npu")
    except importlib.metadata.PackageNotFoundError:
        return None


def required_torch(torch_npu_version: str) -> str:
    """The torch release a torch_npu release is built for, by the rule torch_npu uses for its own
    releases: ``X.Y.Z[.postN]`` needs torch ``X.Y.Z``. (Every line of the environment table,
    ``npu_compat/env/versions.toml``, pins a pair that keeps this rule; its test checks that.)
    """
    try:
        return Version(torch_npu_version).base_version
    except InvalidVersion as err:
        raise TargetError(f"cannot read torch_npu version '{torch_npu_version}'", "reinstall torch_npu") from err


def check_version_pair(torch_version: str, torch_npu_version: str) -> None:
    """Refuse a torch / torch_npu pair that torch_npu will not load with."""
    need = required_torch(torch_npu_version)
    have = Version(torch_version).base_version
    if have != need:
        raise TargetError(
            f"torch_npu {torch_npu_version} needs torch {need}, found {torch_version}",
            f"install the CPU build of torch=={need} with --no-deps under the constraints from "
            "`python -m npu_compat.env constraints --line <line> -o constraints.txt` (docs/env.md)",
        )
    if "+cu" in torch_version:
        raise TargetError(
            f"torch {torch_version} is a CUDA build and torch_npu refuses to load beside it",
            f"install the CPU build of torch=={need}, see docs/env.md",
        )


def load_torch_npu() -> ModuleType:
    """Import torch_npu once, after checking it is installed and matches torch."""
    global _LOADED
    if _LOADED is not None:
        return _LOADED
    version = installed_torch_npu_version()
    if version is None:
        raise TargetError(
            "device 'npu' needs torch_npu, which is not installed",
            "build the environment with env/ (docs/env.md), or choose --device cpu",
        )
    simulated = simulated_version() is not None
    try:
        check_version_pair(torch.__version__, version)
    except TargetError as err:
        if not simulated:
            raise
        # The simulator runs on the installed torch, so a pair hardware refuses is reported, not fatal.
        note = f"simulated npu (torch_npu {version}): on hardware this pair is refused: {err}"
        if note not in TARGET_NOTES:
            TARGET_NOTES.append(note)
    if simulated:
        _put_stand_in_first()
    try:
        import torch_npu  # noqa: F401  (the one import of torch_npu in the kit)
    except (ImportError, OSError) as err:
        raise TargetError(
            f"torch_npu {version} is installed but failed to import ({err})",
            "source /usr/local/Ascend/ascend-toolkit/set_env.sh and check CANN with python -m npu_compat.env",
        ) from err
    if simulated and not getattr(torch_npu, "SIMULATED", False):
        raise TargetError(f"{SIMULATE_ENV} is set but the real torch_npu was imported first",
                          "unset NPU_COMPAT_SIMULATE on a real Ascend host, or simulate in a fresh process")
    _LOADED = torch_npu
    return torch_npu


def _put_stand_in_first() -> None:
    path = str(SIM_STAND_IN)
    if path not in sys.path:
        sys.path.insert(0, path)


def npu_available() -> bool:
    """True when torch_npu loads and sees at least one NPU; never raises."""
    if installed_torch_npu_version() is None:
        return False
    try:
        load_torch_npu()
        return bool(torch.npu.is_available())  # type: ignore[attr-defined]
    except Exception:
        return False


@dataclass(frozen=True)
class RuntimeProfile:
    """NPU runtime settings applied with the shim. None leaves a knob as torch_npu set it."""

    jit_compile: bool | None = False
    allow_internal_format: bool | None = False
    conv_hf32: bool | None = None
    matmul_hf32: bool | None = None


@dataclass
class Setting:
    key: str
    old: Any
    new: Any
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new, "why": self.why}


_WHY = {
    "npu.jit_compile": "use prebuilt operator binaries instead of compiling online (minutes on first run)",
    "npu.allow_internal_format": "keep tensors out of private formats: fewer TransData copies and format bugs",
    "npu.conv.allow_hf32": "fp32 convolutions may run in HF32",
    "npu.matmul.allow_hf32": "fp32 matmuls may run in HF32",
}


def _knobs(torch_npu: Any) -> dict[str, tuple[Any, str]]:
    """(owner object, attribute) for each attribute-style knob."""
    npu = torch_npu.npu
    return {
        "npu.allow_internal_format": (npu.config, "allow_internal_format"),
        "npu.conv.allow_hf32": (npu.conv, "allow_hf32"),
        "npu.matmul.allow_hf32": (npu.matmul, "allow_hf32"),
    }


def apply_runtime_profile(profile: RuntimeProfile, torch_npu: Any | None = None) -> list[Setting]:
    """Apply the profile and return what changed, for the report and for revert.

    ``torch_npu`` is injectable so tests can pass a test double of the Ascend runtime.
    """
    mod = torch_npu if torch_npu is not None else load_torch_npu()
    changes: list[Setting] = []
    if profile.jit_compile is not None:
        probe = getattr(mod.npu, "is_jit_compile_false", None)
        old = (not probe()) if probe is not None else None
        mod.npu.set_compile_mode(jit_compile=profile.jit_compile)
        changes.append(Setting("npu.jit_compile", old, profile.jit_compile, _WHY["npu.jit_compile"]))
    wanted = {
        "npu.allow_internal_format": profile.allow_internal_format,
        "npu.conv.allow_hf32": profile.conv_hf32,
        "npu.matmul.allow_hf32": profile.matmul_hf32,
    }
    for key, (owner, attr) in _knobs(mod).items():
        value = wanted[key]
        if value is None:
            continue
        old = getattr(owner, attr, None)
        setattr(owner, attr, value)
        changes.append(Setting(key, old, value, _WHY[key]))
    return changes


def revert_runtime_profile(changes: list[Setting], torch_npu: Any | None = None) -> None:
    """Put every knob back as ``apply_runtime_profile`` found it."""
    mod = torch_npu if torch_npu is not None else load_torch_npu()
    knobs = _knobs(mod)
    for change in reversed(changes):
        if change.key == "npu.jit_compile":
            if change.old is not None:
                mod.npu.set_compile_mode(jit_compile=change.old)
        elif change.key in knobs:
            owner, attr = knobs[change.key]
            setattr(owner, attr, change.old)
