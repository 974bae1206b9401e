"""The rest of torch_npu's ``torch.npu`` for the simulated npu (a TEST DOUBLE of the Ascend stack).

:mod:`npu_compat.sim.device_module` holds what the kit and SAM3 call; this module completes the
module to the whole API surface of the simulated release (``npu_compat/data/torch_npu_surface/``,
read from that release's wheel), so code written against torch_npu finds every name:

- a name with a host-side meaning works: ``utilization`` is 0, the memory fraction is kept and
  checked as torch_npu checks it, ``caching_allocator_alloc`` hands out host blocks, the memory
  history is recorded as empty, profiling markers and debug switches are kept and do nothing;
- a name with none (dump files, device limits, AOE tuning, typed device storages...) raises
  ``RuntimeError`` naming the API, the release and the simulator: the call needs the device.

The graph names (``NPUGraph``, ``graph``, ``make_graphed_callables``) come from the simulator's graph
capture (:mod:`npu_compat.sim.graphs`, through ``device_module``).
"""
from __future__ import annotations

import contextlib
import pickle
import types
import warnings
from typing import Any, Callable

import torch

from npu_compat.atomic_files import atomic_path
from npu_compat.npu_releases.surface import Surface
from npu_compat.sim import device_module as dm

GRAPH_CAPTURE = ("NPUGraph", "graph", "make_graphed_callables")
SUBMODULES = ("memory", "random", "streams", "graphs", "utils")
_FRACTION: dict[int, float] = {}
_BLOCKS: dict[int, torch.Tensor] = {}
_HISTORY: dict[str, Any] = {"enabled": None}
_SWITCHES: dict[str, Any] = {"sync_debug_mode": 0, "mm_bmm_format_nd": True, "flash_sdp": True, "math_sdp": True,
                             "mem_efficient_sdp": True, "options": {}, "device_limits": {}, "stream_limits": {},
                             "op_timeout_ms": None, "task_queue_enable": 1, "compatible_impl": False,
                             "deterministic_level": 0}


# ---- memory ----------------------------------------------------------------------------------
def utilization(device: Any = None) -> int:
    """The device's utilization rate: always 0 (nothing runs on a device here)."""
    index = dm._index(device)
    if index < 0 or index >= dm.device_count():
        raise AssertionError("Invalid device id")
    return 0


def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
    """Kept per device and checked as torch_npu checks it; not enforced (no allocator limit here)."""
    if not isinstance(fraction, float):
        raise TypeError("Invalid type for fraction argument, must be `float`")
    if fraction < 0 or fraction > 1:
        raise ValueError(f"Invalid fraction value: {fraction}. Allowed range: 0~1")
    _FRACTION[dm._index(device)] = fraction


def get_per_process_memory_fraction(device: Any = None) -> float:
    return _FRACTION.get(dm._index(device), 1.0)


def caching_allocator_alloc(size: int, device: Any = None, stream: Any = None) -> int:
    """A host block of ``size`` bytes, alive until ``caching_allocator_delete(pointer)``."""
    if not isinstance(size, int) or size < 0:
        raise TypeError("Invalid type for size argument, must be a non-negative `int`")
    block = torch.empty(max(size, 1), dtype=torch.uint8)
    _BLOCKS[block.data_ptr()] = block
    return block.data_ptr()


def caching_allocator_delete(mem_ptr: int) -> None:
    if _BLOCKS.pop(mem_ptr, None) is None:
        raise RuntimeError(f"caching_allocator_delete: {mem_ptr:#x} was not allocated by caching_allocator_alloc")


def memory_stats_as_nested_dict(device: Any = None) -> dict[str, Any]:
    flat = dm.memory_stats(device)
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def memory_snapshot() -> list[Any]:
    """No caching allocator: no segments."""
    return []


def memory_summary(device: Any = None, abbreviated: bool = False) -> str:
    used, peak = dm.memory_allocated(device), dm.max_memory_allocated(device)
    return (f"simulated npu memory summary (device {dm._index(device)}): allocated {used} bytes, "
            f"peak {peak} bytes; host storage of live device tensors, no caching allocator\n")


def _record_memory_history(enabled: Any = "all", *args: Any, **kwargs: Any) -> None:
    """Kept; the host allocator records no events, so snapshots hold no traces."""
    _HISTORY["enabled"] = enabled


def _snapshot(device: Any = None) -> dict[str, Any]:
    return {"segments": [], "device_traces": [[] for _ in range(dm.device_count())], "allocator_settings": {}}


def _dump_snapshot(filename: str = "dump_snapshot.pickle") -> None:
    with atomic_path(filename) as tmp:
        with open(tmp, "wb") as handle:
            pickle.dump(_snapshot(), handle)


def _keep(name: str, value: Any = None) -> Callable[..., None]:
    def setter(*args: Any, **kwargs: Any) -> None:
        _SWITCHES[name] = args[0] if args else (value if value is not None else kwargs)

    setter.__name__ = f"set_{name}"
    return setter


def _read(name: str) -> Callable[..., Any]:
    def getter(*args: Any, **kwargs: Any) -> Any:
        return _SWITCHES[name]

    getter.__name__ = f"get_{name}"
    return getter


def _nothing(name: str) -> Callable[..., None]:
    def call(*args: Any, **kwargs: Any) -> None:
        dm.CALLS.append((name, args, kwargs))

    call.__name__ = name
    return call


# ---- devices, streams, autocast --------------------------------------------------------------
def can_device_access_peer(device_id: Any, peer_device_id: Any) -> bool:
    return 0 <= dm._index(device_id) < dm.device_count() and 0 <= dm._index(peer_device_id) < dm.device_count()


def get_device_capability(device: Any = None) -> None:
    """As torch_npu: CANN has no such concept; a warning and None."""
    warnings.warn("torch.npu.get_device_capability isn't implemented!")
    return None


class StreamContext:
    """``with torch.npu.StreamContext(s):``: every simulated stream runs in order."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __enter__(self) -> Any:
        return self.stream

    def __exit__(self, *exc: Any) -> None:
        return None


def device_of(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor) and obj.device.type == "npu":
        return dm.device(obj.device.index or 0)
    return contextlib.nullcontext()


@contextlib.contextmanager
def sdp_kernel(enable_flash: bool = True, enable_math: bool = True, enable_mem_efficient: bool = True) -> Any:
    previous = {key: _SWITCHES[key] for key in ("flash_sdp", "math_sdp", "mem_efficient_sdp")}
    _SWITCHES.update(flash_sdp=enable_flash, math_sdp=enable_math, mem_efficient_sdp=enable_mem_efficient)
    try:
        yield
    finally:
        _SWITCHES.update(previous)


def _legacy_tensor(name: str, dtype: torch.dtype) -> type:
    """``torch.npu.FloatTensor(...)``: a tensor of that dtype on the device; isinstance by dtype and device."""

    class Meta(type):
        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, torch.Tensor) and obj.dtype == dtype and obj.device.type == "npu"

        def __call__(cls, *args: Any, **kwargs: Any) -> torch.Tensor:
            if len(args) == 1 and isinstance(args[0], (list, tuple)):  # data, as the legacy constructors take it
                return torch.tensor(args[0], dtype=dtype, device="npu")
            if len(args) == 1 and isinstance(args[0], torch.Tensor):
                return args[0].to(device="npu", dtype=dtype)
            return torch.empty(*args, dtype=dtype, device="npu", **kwargs)

    return Meta(name, (), {"dtype": dtype, "is_cuda": False, "is_sparse": False})


_LEGACY_DTYPES = {"Float": torch.float32, "Double": torch.float64, "Half": torch.float16, "BFloat16": torch.bfloat16,
                  "Long": torch.int64, "Int": torch.int32, "Short": torch.int16, "Char": torch.int8,
                  "Byte": torch.uint8, "Bool": torch.bool}


# ---- names without a host meaning -------------------------------------------------------------
def refusal(api: str, version: str) -> Any:
    """A function that raises the one-line error of a device-only call."""
    text = (f"{api} needs the Ascend device: not simulated by the simulated npu (torch_npu {version}, "
            "a test double of torch_npu + CANN + the chip)")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(text)

    refuse.__name__ = api.rsplit(".", 1)[-1]
    refuse.__doc__ = text
    return refuse


def _refused_class(api: str, version: str) -> type:
    refuse = refusal(api, version)
    return type(api.rsplit(".", 1)[-1], (), {"__init__": lambda self, *a, **k: refuse(), "__doc__": refuse.__doc__})


def host_names() -> dict[str, Any]:
    """The names of torch_npu's surface that have a host meaning here (beyond device_module's)."""
    names: dict[str, Any] = {
        "utilization": utilization, "set_per_process_memory_fraction": set_per_process_memory_fraction,
        "get_per_process_memory_fraction": get_per_process_memory_fraction,
        "caching_allocator_alloc": caching_allocator_alloc, "caching_allocator_delete": caching_allocator_delete,
        "memory_stats_as_nested_dict": memory_stats_as_nested_dict, "memory_snapshot": memory_snapshot,
        "memory_summary": memory_summary, "memory_cached": dm.memory_reserved,
        "max_memory_cached": dm.max_memory_reserved, "reset_max_memory_allocated": dm.reset_peak_memory_stats,
        "reset_max_memory_cached": dm.reset_peak_memory_stats,
        "reset_accumulated_memory_stats": _nothing("reset_accumulated_memory_stats"),
        "empty_virt_addr_cache": _nothing("empty_virt_addr_cache"), "host_empty_cache": _nothing("host_empty_cache"),
        "host_memory_stats": lambda: {}, "host_memory_stats_as_nested_dict": lambda: {},
        "reset_peak_host_memory_stats": _nothing("reset_peak_host_memory_stats"),
        "reset_accumulated_host_memory_stats": _nothing("reset_accumulated_host_memory_stats"),
        "ipc_collect": _nothing("ipc_collect"), "can_device_access_peer": can_device_access_peer,
        "get_device_capability": get_device_capability, "StreamContext": StreamContext,
        "set_stream": _nothing("set_stream"), "device_of": device_of,
        "set_sync_debug_mode": _keep("sync_debug_mode"), "get_sync_debug_mode": _read("sync_debug_mode"),
        "is_autocast_enabled": lambda: torch.is_autocast_enabled("npu"),
        "set_autocast_enabled": lambda enabled: torch.set_autocast_enabled("npu", enabled),
        "get_autocast_dtype": lambda: torch.get_autocast_dtype("npu"),
        "set_autocast_dtype": lambda dtype: torch.set_autocast_dtype("npu", dtype),
        "enable_deterministic_with_backward": _nothing("enable_deterministic_with_backward"),
        "disable_deterministic_with_backward": _nothing("disable_deterministic_with_backward"),
        "set_deterministic_level": _keep("deterministic_level"),
        "use_compatible_impl": _keep("compatible_impl"), "are_compatible_impl_enabled": _read("compatible_impl"),
        "flash_sdp_enabled": _read("flash_sdp"), "enable_flash_sdp": _keep("flash_sdp"),
        "math_sdp_enabled": _read("math_sdp"), "enable_math_sdp": _keep("math_sdp"),
        "mem_efficient_sdp_enabled": _read("mem_efficient_sdp"), "enable_mem_efficient_sdp": _keep("mem_efficient_sdp"),
        "sdp_kernel": sdp_kernel, "set_option": _keep("options"),
        "set_mm_bmm_format_nd": _keep("mm_bmm_format_nd"), "get_mm_bmm_format_nd": _read("mm_bmm_format_nd"),
        "get_npu_overflow_flag": lambda: False, "clear_npu_overflow_flag": _nothing("clear_npu_overflow_flag"),
        "set_op_timeout_ms": _keep("op_timeout_ms"),
        "set_task_queue_enable": _keep("task_queue_enable"), "get_task_queue_enable": _read("task_queue_enable"),
        "is_current_stream_capturing": lambda: False,
        "mstx": types.SimpleNamespace(mark=_nothing("mstx.mark"), range_start=lambda *a, **k: 0,
                                      range_end=_nothing("mstx.range_end")),
        "default_generators": tuple(dm._state().generators),
    }
    for prefix, dtype in _LEGACY_DTYPES.items():
        names[f"{prefix}Tensor"] = _legacy_tensor(f"{prefix}Tensor", dtype)
    return names


def _submodule(name: str, module: types.ModuleType, surface: Surface) -> types.ModuleType:
    found = surface.module(f"torch_npu.npu.{name}")
    sub = types.ModuleType(f"torch_npu.npu.{name}", f"torch.npu.{name} of the simulated npu (a test double)")
    for attr in sorted(found.public if found is not None else ()):
        if hasattr(module, attr):
            setattr(sub, attr, getattr(module, attr))
    if name == "memory":
        sub._record_memory_history, sub._snapshot, sub._dump_snapshot = _record_memory_history, _snapshot, _dump_snapshot
    return sub


def complete(module: types.ModuleType, surface: Surface) -> list[str]:
    """Give ``module`` (the simulated ``torch.npu``) every name of ``surface``; returns the refused ones."""
    version, refused = surface.version, []
    for name, value in host_names().items():
        if name in surface.npu_names() and not hasattr(module, name):
            setattr(module, name, value)
    for name in sorted(surface.npu_names()):
        if hasattr(module, name) or name in GRAPH_CAPTURE or name in SUBMODULES:
            continue
        if name in {"aclnn", "autocast_utils", "backends", "deterministic", "npu_config", "npugraph_ex"}:
            setattr(module, name, types.ModuleType(f"torch_npu.npu.{name}", "not simulated: no device-side names"))
            continue
        api = f"torch.npu.{name}"
        setattr(module, name, _refused_class(api, version) if name[:1].isupper() else refusal(api, version))
        refused.append(name)
    for name in SUBMODULES:
        if name in surface.npu_names():
            setattr(module, name, _submodule(name, module, surface))
    _fill_submodules(module, "torch_npu.npu", surface)
    return refused


def _fill_submodules(module: types.ModuleType, dotted: str, surface: Surface) -> None:
    """Every public name of each submodule the surface lists (``torch_npu.npu.amp``...): an empty
    module for a module the surface lists, else the refusal."""
    for name in sorted(surface.module(dotted).public if surface.module(dotted) is not None else ()):
        if name in GRAPH_CAPTURE:
            continue
        child = f"{dotted}.{name}"
        if not hasattr(module, name):
            setattr(module, name, types.ModuleType(child, "not simulated") if surface.module(child) is not None
                    else refusal(f"{child.replace('torch_npu.npu', 'torch.npu', 1)}", surface.version))
        value = getattr(module, name)
        if isinstance(value, types.ModuleType) and surface.module(child) is not None and value is not module:
            _fill_submodules(value, child, surface)


__all__ = ["complete", "host_names", "refusal", "GRAPH_CAPTURE", "SUBMODULES", "utilization",
           "set_per_process_memory_fraction", "caching_allocator_alloc", "caching_allocator_delete"]
