"""``torch.npu`` of the simulated npu (a TEST DOUBLE of the Ascend stack): the part of torch_npu's
device module that the kit and SAM3 call, each call recorded in :data:`CALLS`.

Streams and events are host objects that are always complete; memory statistics are the device
allocator's (``csrc/native_hooks.cpp``); each device index has its own default generator (C++).
"""
from __future__ import annotations

import contextlib
import functools
import types
from typing import Any, Callable

import torch

from npu_compat.sim import dispatch, graphs, native_hooks
from npu_compat.sim.counters import COUNTERS

CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []


def recorded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        CALLS.append((fn.__name__, args, kwargs))
        return fn(*args, **kwargs)

    return wrapper


def _state() -> dispatch.DeviceState:
    assert dispatch.STATE is not None
    return dispatch.STATE


def _index(device: Any = None) -> int:
    if device is None:
        return _state().current
    if isinstance(device, int):
        return _state().device(torch.device("npu", device)).index
    return _state().device(device).index


# ---- availability and the current device -----------------------------------------------------
@recorded
def is_available() -> bool:
    return True


@recorded
def device_count() -> int:
    return _state().device_count


@recorded
def current_device() -> int:
    return _state().current


def _set_current(index: int) -> None:
    found = native_hooks.state()
    if found is None or found.library is None or found.library.npu_sim_set_current_device(index) != 1:
        raise RuntimeError(f"cannot make npu:{index} current on the {_state().label()}")


@recorded
def set_device(device: Any) -> None:
    _set_current(_index(device))


@recorded
def synchronize(device: Any = None) -> None:
    graphs.check_sync("torch.npu.synchronize()")
    COUNTERS.sync("synchronize")


@recorded
def get_device_name(device: Any = None) -> str:
    return f"{_state().label()} #{_index(device)}"


@recorded
def get_device_properties(device: Any = None) -> Any:
    """The fields of torch_npu's ``_NPUDeviceProperties`` (recent releases also have major/minor; 0 here)."""
    return types.SimpleNamespace(name=get_device_name(device), total_memory=64 << 30, cube_core_num=24,
                                 vector_core_num=48, L2_cache_size=192 << 20, major=0, minor=0)


class device:  # noqa: N801 (torch.npu.device, as torch_npu spells it)
    """``with torch.npu.device(1):`` switches the current index and restores it; as in torch_npu,
    ``device(-1)`` and ``device(None)`` change nothing."""

    def __init__(self, index: Any) -> None:
        self.index = -1 if index is None or (isinstance(index, int) and index == -1) else _index(index)

    def __enter__(self) -> None:
        self.previous = _state().current
        if self.index != -1:
            _set_current(self.index)

    def __exit__(self, *exc: Any) -> None:
        _set_current(self.previous)


# ---- streams and events ----------------------------------------------------------------------
class Event:
    """Host event: recorded work is always complete, so ``elapsed_time`` is 0.0 (no timing here)."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False) -> None:
        CALLS.append(("Event", (), {"enable_timing": enable_timing}))

    def record(self, stream: Any = None) -> None:
        CALLS.append(("Event.record", (), {}))

    def wait(self, stream: Any = None) -> None:
        CALLS.append(("Event.wait", (), {}))

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        CALLS.append(("Event.synchronize", (), {}))
        graphs.check_sync("Event.synchronize()")
        COUNTERS.sync("event.synchronize")

    def elapsed_time(self, end: "Event") -> float:
        return 0.0


class Stream:
    def __init__(self, device: Any = None, priority: int = 0) -> None:
        self.device = torch.device("npu", _index(device))
        CALLS.append(("Stream", (), {"device": str(self.device)}))

    def synchronize(self) -> None:
        CALLS.append(("Stream.synchronize", (), {}))
        graphs.check_sync("Stream.synchronize()")
        COUNTERS.sync("stream.synchronize")

    def wait_event(self, event: Event) -> None:
        CALLS.append(("Stream.wait_event", (), {}))

    def wait_stream(self, stream: "Stream") -> None:
        CALLS.append(("Stream.wait_stream", (), {}))

    def record_event(self, event: Event | None = None) -> Event:
        return event or Event()

    def query(self) -> bool:
        return True


_DEFAULT: dict[int, Stream] = {}


@recorded
def default_stream(device: Any = None) -> Stream:
    index = _index(device)
    if index not in _DEFAULT:
        _DEFAULT[index] = Stream(index)
    return _DEFAULT[index]


@recorded
def current_stream(device: Any = None) -> Stream:
    return default_stream(device)


@recorded
def stream(s: Any) -> Any:
    return contextlib.nullcontext(s)


# ---- graphs (npu_compat.sim.graphs) -----------------------------------------------------------
NPUGraph = graphs.NPUGraph
graph = graphs.graph
make_graphed_callables = graphs.make_graphed_callables
graph_pool_handle = graphs.graph_pool_handle
is_current_stream_capturing = graphs.is_current_stream_capturing


# ---- memory ---------------------------------------------------------------------------------
@recorded
def memory_allocated(device: Any = None) -> int:
    """Bytes of live device memory on the index (the C++ device allocator's count)."""
    return native_hooks.device_bytes(_index(device))[0]


@recorded
def max_memory_allocated(device: Any = None) -> int:
    """The most bytes live at once since the start or the last ``reset_peak_memory_stats``."""
    return native_hooks.device_bytes(_index(device))[1]


memory_reserved = recorded(lambda device=None: memory_allocated(device))
memory_reserved.__name__ = "memory_reserved"
max_memory_reserved = max_memory_allocated


@recorded
def reset_peak_memory_stats(device: Any = None) -> None:
    native_hooks.reset_peak(_index(device))


@recorded
def empty_cache() -> None:
    return None


@recorded
def mem_get_info(device: Any = None) -> tuple[int, int]:
    total = 64 << 30
    return total - memory_allocated(device), total


@recorded
def memory_stats(device: Any = None) -> dict[str, int]:
    live, peak = native_hooks.device_bytes(_index(device))
    return {"allocated_bytes.all.current": live, "allocated_bytes.all.peak": peak}


# ---- RNG ------------------------------------------------------------------------------------
@recorded
def manual_seed(seed: int) -> None:
    _state().generators[_state().current].manual_seed(int(seed))


@recorded
def manual_seed_all(seed: int) -> None:
    for gen in _state().generators:
        gen.manual_seed(int(seed))


@recorded
def seed() -> None:
    _state().generators[_state().current].seed()


@recorded
def seed_all() -> None:
    for gen in _state().generators:
        gen.seed()


@recorded
def initial_seed() -> int:
    return _state().generators[_state().current].initial_seed()


@recorded
def get_rng_state(device: Any = "npu") -> torch.Tensor:
    return _state().generators[_index(device)].get_state()


@recorded
def set_rng_state(new_state: torch.Tensor, device: Any = "npu") -> None:
    _state().generators[_index(device)].set_state(new_state)


@recorded
def get_rng_state_all() -> list[torch.Tensor]:
    return [gen.get_state() for gen in _state().generators]


@recorded
def set_rng_state_all(states: list[torch.Tensor]) -> None:
    for gen, value in zip(_state().generators, states):
        gen.set_state(value)


# ---- amp and dtypes -------------------------------------------------------------------------
@recorded
def get_amp_supported_dtype() -> list[torch.dtype]:
    return [torch.float16, torch.bfloat16]


@recorded
def is_bf16_supported() -> bool:
    return True


@recorded
def _is_in_bad_fork() -> bool:
    return False


def is_initialized() -> bool:
    return True


def init() -> None:
    return None


def _autocast(*args: Any, **kwargs: Any) -> Any:
    CALLS.append(("amp.autocast", args, kwargs))
    return torch.autocast("npu", *args, **kwargs)


def _grad_scaler(*args: Any, **kwargs: Any) -> Any:
    return torch.amp.GradScaler("npu", *args, **kwargs)


def _module(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


# As in torch_npu, ``amp`` is a package with ``autocast_mode`` and ``grad_scaler`` submodules
# (torch._dynamo reads ``torch.cuda.amp.autocast_mode.autocast``, which the shim sends here).
amp = _module("torch_npu.npu.amp", autocast=_autocast, GradScaler=_grad_scaler,
              custom_fwd=torch.amp.custom_fwd, custom_bwd=torch.amp.custom_bwd,
              autocast_mode=_module("torch_npu.npu.amp.autocast_mode", autocast=_autocast,
                                    custom_fwd=torch.amp.custom_fwd, custom_bwd=torch.amp.custom_bwd),
              grad_scaler=_module("torch_npu.npu.amp.grad_scaler", GradScaler=_grad_scaler))


# ---- runtime knobs the kit sets (torch_npu.npu.*) ---------------------------------------------
config = types.SimpleNamespace(allow_internal_format=True)
conv = types.SimpleNamespace(allow_hf32=True)
matmul = types.SimpleNamespace(allow_hf32=False)
_JIT = [True]


@recorded
def set_compile_mode(jit_compile: bool = False) -> None:
    _JIT[0] = bool(jit_compile)


@recorded
def is_jit_compile_false() -> bool:
    return not _JIT[0]


_NOT_API = {"build_module", "recorded", "CALLS", "native_hooks", "dispatch", "graphs", "functools", "contextlib", "types", "torch",
            "Any", "Callable", "COUNTERS", "annotations"}


def build_module() -> types.ModuleType:
    """A fresh ``torch.npu`` module object holding this module's API (public names and ``_is_in_bad_fork``)."""
    module = types.ModuleType("torch.npu", "torch.npu of the simulated npu (a test double of the Ascend stack)")
    for name, value in list(globals().items()):
        if name in _NOT_API or (name.startswith("_") and name != "_is_in_bad_fork"):
            continue
        setattr(module, name, value)
    return module


__all__ = ["CALLS", "build_module", "Stream", "Event", "device"]
