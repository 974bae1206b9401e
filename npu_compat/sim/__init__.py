"""The simulated npu: a TEST DOUBLE of the Ascend stack (torch_npu on CANN and an NPU).

``--simulate torch_npu==2.7.1.post2`` (or ``NPU_COMPAT_SIMULATE=torch_npu==2.7.1.post2``) puts
``npu_compat/sim/stand_in`` first on ``sys.path``, so the kit's own ``import torch_npu`` (in
``npu_compat/npu.py``) finds the stand-in, which calls :func:`install`. That registers ``npu`` as a
PrivateUse1 backend built in C++ (``csrc/native_hooks.cpp``: allocator over host memory, device guard,
generators, views), a boxed fallback that runs an aten op on the host only if the release's kernel list
has it (:mod:`npu_compat.sim.dispatch`), and a ``torch.npu`` device module. Device tensors are plain
``torch.Tensor``s. Numerics, speed and memory formats are the host's. Nothing in the kit imports this
package; it reads only torch and the kit's base data. Docs: docs/simulated-npu.md.
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from npu_compat.atomic_files import write_json_atomic
from npu_compat.npu_releases.kernels import load_kernel_list
from npu_compat.npu_releases.surface import load_surface
from npu_compat.sim import collectives, counters, dispatch, native_hooks
from npu_compat.sim.autocast import register_autocast
from npu_compat.sim.device_module import build_module
from npu_compat.sim.device_surface import complete
from npu_compat.sim.kernel_rules import KernelRules
from npu_compat.simulation import SIMULATE_ENV, simulated_version

DEVICES_ENV = "NPU_COMPAT_SIM_DEVICES"
LOG_ENV = "NPU_COMPAT_SIM_LOG"  # a folder: each process writes sim-<pid>.json there at exit


class SimulatorUnavailable(ImportError):
    """The simulated npu cannot be installed in this process; the message is one line that says why."""


@dataclass
class SimulatedRuntime:
    version: str
    npu: ModuleType
    library: Any  # the torch.library.Library objects holding the fallback and kernels; kept alive here

    @property
    def label(self) -> str:
        return f"simulated npu (torch_npu {self.version})"


_RUNTIME: SimulatedRuntime | None = None


def install(version: str | None = None) -> SimulatedRuntime:
    """Register the simulated npu for ``version`` (default: from ``NPU_COMPAT_SIMULATE``). Once per process."""
    global _RUNTIME
    version = version or simulated_version()
    if not version:
        raise SimulatorUnavailable(f"the simulated npu needs a torch_npu version: {SIMULATE_ENV}=torch_npu==VERSION")
    if _RUNTIME is not None:
        if _RUNTIME.version != version:
            raise SimulatorUnavailable(f"{_RUNTIME.label} is already installed in this process; cannot switch to "
                                       f"{version}")
        return _RUNTIME
    rules = KernelRules(load_kernel_list(version))
    count = int(os.environ.get(DEVICES_ENV, "2"))
    native = native_hooks.register(count)
    if not native.available:
        raise SimulatorUnavailable(native.note())
    dispatch.STATE = dispatch.DeviceState(rules, count)
    dispatch.CURRENT_DEVICE = native.library.npu_sim_current_device
    dispatch.bind_native_ops()
    module = build_module()
    torch.utils.rename_privateuse1_backend("npu")
    torch._register_device_module("npu", module)
    torch.utils.generate_methods_for_privateuse1_backend(for_tensor=True, for_module=True, for_storage=True,
                                                         for_packed_sequence=True)
    # PyTorch takes a registered PrivateUse1 backend as the accelerator before CUDA, so these are npu:i's
    dispatch.STATE.generators = [torch._C._accelerator_getDefaultGenerator(i) for i in range(count)]
    if any(g.device.type != "npu" for g in dispatch.STATE.generators):
        raise SimulatorUnavailable("the simulated npu's default generators are not torch's accelerator generators "
                                   f"in this torch {torch.__version__}")
    complete(module, load_surface(version))  # every torch.npu name of the release (sim/device_surface.py)
    library = torch.library.Library("_", "IMPL")
    library.fallback(dispatch.fallback, "PrivateUse1")
    # torch_npu registers autocast kernels in C++; here the listed ops get Python ones, the rest pass
    library.fallback(torch.library.fallthrough_kernel, "AutocastPrivateUse1")
    kernels = torch.library.Library("aten", "IMPL")
    dispatch.register_kernels(kernels)
    register_autocast(kernels)
    collectives.register()
    if os.environ.get(LOG_ENV):
        atexit.register(write_process_log, os.environ[LOG_ENV])
    _RUNTIME = SimulatedRuntime(version, module, (library, kernels))
    return _RUNTIME


def process_log() -> dict[str, Any]:
    """What this process did on the simulated npu: devices used, counters, torch_npu fallbacks."""
    state = dispatch.STATE
    used = [i for i in range(state.device_count) if native_hooks.device_bytes(i)[1] > 0] if state else []
    return {"backend": _RUNTIME.label if _RUNTIME else None, "pid": os.getpid(),
            "rank": os.environ.get("RANK"), "local_rank": os.environ.get("LOCAL_RANK"),
            "devices_used": [f"npu:{i}" for i in used], "counters": counters.snapshot(),
            "native_hooks": _native_hooks_log(),
            "torch_npu_fallbacks": dict(state.fallbacks) if state else {}}


def _native_hooks_log() -> dict[str, Any]:
    found = native_hooks.state()
    if found is None:
        return {"available": False, "reason": "not registered"}
    blocks, nbytes = native_hooks.live_blocks()
    return {"available": found.available, "reason": found.reason, "pinned_blocks": blocks, "pinned_bytes": nbytes}


def write_process_log(folder: str) -> None:
    write_json_atomic(os.path.join(folder, f"sim-{os.getpid()}.json"), process_log(), indent=1)


def runtime() -> SimulatedRuntime | None:
    """The installed simulated runtime, or None."""
    return _RUNTIME


__all__ = ["install", "runtime", "process_log", "write_process_log", "SimulatedRuntime", "SimulatorUnavailable",
           "DEVICES_ENV", "LOG_ENV"]
