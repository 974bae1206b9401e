"""The simulated npu: a TEST DOUBLE of the Ascend stack (torch_npu on CANN and an NPU).

``--simulate torch_npu==2.7.1.post2`` (or ``NPU_COMPAT_SIMULATE=torch_npu==2.7.1.post2``) puts
``npu_compat/sim/stand_in`` first on ``sys.path``, so the kit's own ``import torch_npu`` (in
``npu_compat/npu.py``) finds the stand-in, which calls :func:`install`. That registers ``npu`` on
PrivateUse1 with PyTorch's Python-backend support, a ``torch.npu`` device module, and a
dispatcher that runs an aten op on the device only if that release's kernel list has it.
Data lives on the host; numerics, speed, memory formats and graph capture are not simulated.
Nothing in the shim imports this package. Docs: docs/simulated-npu.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

DEVICES_ENV = "NPU_COMPAT_SIM_DEVICES"
LOG_ENV = "NPU_COMPAT_SIM_LOG"  # a folder: each process writes sim-<pid>.json there at exit


@dataclass
class SimulatedRuntime:
    version: str
    npu: ModuleType
    library: Any  # the torch.library.Library holding the PrivateUse1 fallback; kept alive here

    @property
    def label(self) -> str:
        return f"simulated npu (torch_npu {self.version})"


_RUNTIME: SimulatedRuntime | None = None


def install(version: str | None = None) -> SimulatedRuntime:
    """Register the simulated npu for ``version`` (default: from ``NPU_COMPAT_SIMULATE``). Once per process."""
    global _RUNTIME
    from npu_compat.simulation import simulated_version

    version = version or simulated_version()
    if not version:
        raise RuntimeError("the simulated npu needs a torch_npu version: NPU_COMPAT_SIMULATE=torch_npu==VERSION")
    if _RUNTIME is not None:
        if _RUNTIME.version != version:
            raise RuntimeError(f"{_RUNTIME.label} is already installed in this process; cannot switch to {version}")
        return _RUNTIME
    import torch
    from torch.utils.backend_registration import _setup_privateuseone_for_python_backend

    from npu_compat.npu_releases.kernels import load_kernel_list
    from npu_compat.npu_releases.surface import load_surface
    from npu_compat.sim import dispatch
    from npu_compat.sim.autocast import register_autocast
    from npu_compat.sim.device_module import build_module
    from npu_compat.sim.device_surface import complete
    from npu_compat.sim.kernel_rules import KernelRules

    rules = KernelRules(load_kernel_list(version))
    dispatch.STATE = dispatch.DeviceState(rules, int(os.environ.get(DEVICES_ENV, "2")))
    module = build_module()
    complete(module, load_surface(version))  # every torch.npu name of the release (sim/device_surface.py)
    native = _register_native_hooks(dispatch.STATE.device_count)  # first: the Python backend's own then stand aside
    _setup_privateuseone_for_python_backend("npu", backend_module=module)
    library = torch.library.Library("_", "IMPL")
    library.fallback(dispatch.factory_fallback, "PrivateUse1")
    # torch_npu registers autocast kernels in C++; here the listed ops get Python ones, the rest pass
    library.fallback(torch.library.fallthrough_kernel, "AutocastPrivateUse1")
    factories = torch.library.Library("aten", "IMPL")
    dispatch.register_factories(factories)
    register_autocast(factories)
    if not native.available:
        _without_pinned_memory(torch)
    _register_hccl()
    if os.environ.get(LOG_ENV):
        import atexit

        atexit.register(write_process_log, os.environ[LOG_ENV])
    _RUNTIME = SimulatedRuntime(version, module, (library, factories))
    return _RUNTIME


def _register_native_hooks(device_count: int) -> Any:
    """The C++ PrivateUse1 hooks (a pinned host allocator) and device guard (every simulated device),
    :mod:`npu_compat.sim.native_hooks`, built on first use. Without them (no C++ compiler, a failed
    build) the reason is in the report's notes."""
    from npu_compat import simulation
    from npu_compat.sim import native_hooks

    native = native_hooks.register(device_count)
    note = native.note()
    if note and note not in simulation.TARGET_NOTES:  # the target's notes in the migration report
        simulation.TARGET_NOTES.append(note)
    return native


def _without_pinned_memory(torch: Any) -> None:
    """Without the C++ hooks (no compiler) torch has no pinned-memory allocator for the simulated npu
    (PrivateUse1 hooks from Python lack getPinnedMemoryAllocator), so ``pin_memory()`` returns the host
    tensor as it is, and says so in ``torch.npu``'s call log. Nothing else differs for the data."""
    from npu_compat.sim.device_module import CALLS

    original = torch.Tensor.pin_memory

    def pin_memory(self: Any, device: Any = None) -> Any:
        if self.device.type != "cpu":
            return original(self, device) if device is not None else original(self)
        CALLS.append(("Tensor.pin_memory (simulated: not pinned)", (), {}))
        return self

    pin_memory.__doc__ = original.__doc__
    torch.Tensor.pin_memory = pin_memory


def _register_hccl() -> None:
    """``hccl`` as a gloo process group on the host that also carries npu tensors (copied to the
    host and back, counted): see :mod:`npu_compat.sim.collectives`."""
    from npu_compat.sim import collectives

    collectives.register()


def process_log() -> dict[str, Any]:
    """What this process did on the simulated npu: devices used, counters, torch_npu fallbacks."""
    from npu_compat.sim import counters, dispatch
    from npu_compat.sim.tensor import USED

    state = dispatch.STATE
    return {"backend": _RUNTIME.label if _RUNTIME else None, "pid": os.getpid(),
            "rank": os.environ.get("RANK"), "local_rank": os.environ.get("LOCAL_RANK"),
            "devices_used": [f"npu:{i}" for i in sorted(USED)], "counters": counters.snapshot(),
            "native_hooks": _native_hooks_log(),
            "torch_npu_fallbacks": dict(state.fallbacks) if state else {}}


def _native_hooks_log() -> dict[str, Any]:
    from npu_compat.sim import native_hooks

    found = native_hooks.state()
    if found is None:
        return {"available": False, "reason": "not registered"}
    blocks, nbytes = native_hooks.live_blocks()
    return {"available": found.available, "reason": found.reason, "pinned_blocks": blocks, "pinned_bytes": nbytes}


def write_process_log(folder: str) -> None:
    from npu_compat.atomic_files import write_json_atomic

    write_json_atomic(os.path.join(folder, f"sim-{os.getpid()}.json"), process_log(), indent=1)


def runtime() -> SimulatedRuntime | None:
    """The installed simulated runtime, or None."""
    return _RUNTIME


__all__ = ["install", "runtime", "process_log", "write_process_log", "SimulatedRuntime", "DEVICES_ENV", "LOG_ENV"]
