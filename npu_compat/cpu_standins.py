"""Honest stand-ins for ``torch.cuda`` functions when the target is the CPU.

CPU work is synchronous, there is one "device", and memory is the process's memory. Where
a stand-in reports something different from what CUDA would, its docstring says so, and
the rule table marks the row *modified* or *no-op*.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import platform
import resource
import time
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from npu_compat.errors import MissingApiError

Device = Any  # torch.device | str | int | None


def synchronize(device: Device = None) -> None:
    """CPU ops complete before they return: nothing to wait for."""


def current_device() -> int:
    """Always 0: the CPU target has one device."""
    return 0


def device_count() -> int:
    """Always 1."""
    return 1


def set_device(device: Device) -> None:
    """Accepted and ignored: there is one CPU device."""


def get_device_name(device: Device = None) -> str:
    return f"cpu ({platform.processor() or platform.machine()}, npu_compat stand-in)"


def get_device_capability(device: Device = None) -> tuple[int, int]:
    """(0, 0): no CUDA compute capability, so capability-gated CUDA paths stay off."""
    return (0, 0)


@dataclass(frozen=True)
class CpuDeviceProperties:
    name: str
    total_memory: int
    multi_processor_count: int
    major: int = 0
    minor: int = 0
    is_integrated: bool = True
    is_multi_gpu_board: bool = False


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def get_device_properties(device: Device = None) -> CpuDeviceProperties:
    """Host memory and core count; major/minor 0 so no code takes an Ampere-only path."""
    return CpuDeviceProperties(get_device_name(), _total_memory(), os.cpu_count() or 1)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return True


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


_peak_baseline = 0


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak * (1 if platform.system() == "Darwin" else 1024)


def memory_allocated(device: Device = None) -> int:
    """Resident set size of the process (the CPU has no tensor-only counter)."""
    return _rss_bytes()


def max_memory_allocated(device: Device = None) -> int:
    """Peak RSS of the process; after ``reset_peak_memory_stats``, at least the RSS then."""
    return max(_peak_rss_bytes() if _peak_baseline == 0 else _rss_bytes(), _peak_baseline, _rss_bytes())


def memory_reserved(device: Device = None) -> int:
    return _rss_bytes()


def max_memory_reserved(device: Device = None) -> int:
    return max_memory_allocated(device)


def reset_peak_memory_stats(device: Device = None) -> None:
    """The OS peak cannot be reset; later peaks are reported from the current RSS on."""
    global _peak_baseline
    _peak_baseline = _rss_bytes()


def reset_max_memory_allocated(device: Device = None) -> None:
    reset_peak_memory_stats(device)


def memory_stats(device: Device = None) -> dict[str, Any]:
    rss = _rss_bytes()
    return {"allocated_bytes.all.current": rss, "allocated_bytes.all.peak": max_memory_allocated(), "reserved_bytes.all.current": rss}


def mem_get_info(device: Device = None) -> tuple[int, int]:
    """(available, total) host memory in bytes."""
    total = _total_memory()
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, total
    except OSError:
        pass
    return total, total


def empty_cache() -> None:
    """No caching allocator on the CPU."""


# The CPU target's "device generator" is the CPU default generator. These call it directly:
# torch.manual_seed() itself calls torch.cuda.manual_seed_all(), so going through
# torch.manual_seed here would recurse.
def manual_seed(seed: int) -> None:
    torch.default_generator.manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    torch.default_generator.manual_seed(int(seed))


def seed() -> None:
    torch.default_generator.seed()


def seed_all() -> None:
    torch.default_generator.seed()


def initial_seed() -> int:
    return torch.default_generator.initial_seed()


def get_rng_state(device: Device = "cuda") -> torch.Tensor:
    return torch.default_generator.get_state()


def set_rng_state(new_state: torch.Tensor, device: Device = "cuda") -> None:
    torch.default_generator.set_state(new_state)


class Event:
    """Host-clock event: ``elapsed_time`` is wall time between two ``record`` calls, in ms."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False,
                 external: bool = False, **kwargs: Any) -> None:
        self.enable_timing = enable_timing
        self.device = torch.device("cpu")
        self._t: float | None = None

    def record(self, stream: Any = None) -> None:
        self._t = time.perf_counter()

    def wait(self, stream: Any = None) -> None:
        pass

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end_event: "Event") -> float:
        if self._t is None or end_event._t is None:
            raise RuntimeError("both events must be recorded before elapsed_time")
        return (end_event._t - self._t) * 1000.0


class Stream:
    """One in-order CPU 'stream': every operation is already complete."""

    def __init__(self, device: Device = None, priority: int = 0, **kwargs: Any) -> None:
        self.device = torch.device("cpu")
        self.priority = priority

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True

    def wait_stream(self, stream: Any) -> None:
        pass

    def wait_event(self, event: Any) -> None:
        pass

    def record_event(self, event: Event | None = None) -> Event:
        event = event or Event()
        event.record(self)
        return event

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream)

    def __hash__(self) -> int:
        return 0


_STREAM = Stream()


def current_stream(device: Device = None) -> Stream:
    return _STREAM


def default_stream(device: Device = None) -> Stream:
    return _STREAM


def set_stream(stream: Any) -> None:
    """Accepted and ignored."""


@contextlib.contextmanager
def stream(stream: Any) -> Iterator[Any]:
    """Accepted and ignored: CPU work runs in order."""
    yield stream


class device:  # noqa: N801  (mirrors torch.cuda.device)
    """``with torch.cuda.device(i)``: accepted and ignored on the CPU."""

    def __init__(self, device: Device) -> None:
        self.idx = 0

    def __enter__(self) -> "device":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def is_initialized() -> bool:
    return True


def init() -> None:
    """Nothing to initialise."""


def ipc_collect() -> None:
    """Nothing to collect."""


# ---- more of torch.cuda's surface -------------------------------------------------------------
def memory_summary(device: Device = None, abbreviated: bool = False) -> str:
    """A short text table of the process's memory (RSS-based, like ``memory_stats``)."""
    mib = 1024 * 1024
    free, total = mem_get_info()
    rows = [
        ("process RSS", _rss_bytes()),
        ("peak RSS", max_memory_allocated()),
        ("host available", free),
        ("host total", total),
    ]
    lines = ["|  npu_compat cpu target: host memory (process RSS, not tensor bytes)  |"]
    lines += [f"|  {name:<20} {value / mib:>12.1f} MiB  |" for name, value in rows]
    return "\n".join(lines)


def memory_snapshot(mempool_id: Any = None, include_traces: bool = True) -> list[Any]:
    """No caching allocator on the CPU: no segments."""
    return []


_memory_fraction = 1.0


def set_per_process_memory_fraction(fraction: float, device: Device = None) -> None:
    """Recorded, not enforced: host memory has no per-process cap to set."""
    global _memory_fraction
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"invalid fraction {fraction}: it must be between 0 and 1")
    _memory_fraction = float(fraction)


def get_per_process_memory_fraction(device: Device = None) -> float:
    return _memory_fraction


_raw_blocks: dict[int, torch.Tensor] = {}


def caching_allocator_alloc(size: int, device: Device = None, stream: Any = None) -> int:
    """Host bytes, kept alive until ``caching_allocator_delete``; returns their address as CUDA does."""
    block = torch.empty(int(size), dtype=torch.uint8)
    ptr = block.data_ptr()
    _raw_blocks[ptr] = block
    return ptr


def caching_allocator_delete(mem_ptr: int) -> None:
    _raw_blocks.pop(int(mem_ptr), None)


def utilization(device: Device = None) -> int:
    """Host CPU load over the last minute, in percent of the cores (0-100)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0
    return int(min(100.0, 100.0 * load / (os.cpu_count() or 1)))


def list_gpu_processes(device: Device = None) -> str:
    return f"cpu target: this process (pid {os.getpid()}) only"


def get_rng_state_all() -> list[torch.Tensor]:
    return [torch.default_generator.get_state()]


def set_rng_state_all(new_states: Any) -> None:
    states = list(new_states)
    if states:
        torch.default_generator.set_state(states[0])


def is_current_stream_capturing() -> bool:
    """No graph capture on the CPU."""
    return False


def make_graphed_callables(callables: Any, sample_args: Any, *args: Any, **kwargs: Any) -> Any:
    """Returned unchanged: without graph capture they run eagerly, with the same results."""
    return callables


def _record_memory_history(enabled: Any = "all", *args: Any, **kwargs: Any) -> None:
    """Accepted and ignored: the host allocator keeps no history."""


def _snapshot(device: Device = None, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """An empty snapshot: no device segments and no traces on the CPU."""
    return {"segments": [], "device_traces": [[]], "allocator_settings": {}}


def _dump_snapshot(filename: str = "dump_snapshot.pickle", *args: Any, **kwargs: Any) -> None:
    with open(filename, "wb") as fh:
        pickle.dump(_snapshot(), fh)


def reset_accumulated_memory_stats(device: Device = None) -> None:
    """Nothing accumulates: the stats are read from the OS each time."""


memory_cached = memory_reserved
max_memory_cached = max_memory_reserved
reset_max_memory_cached = reset_max_memory_allocated


class StreamContext:
    """``with torch.cuda.StreamContext(s)``: CPU work runs in order."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __enter__(self) -> Any:
        return self.stream

    def __exit__(self, *exc: Any) -> None:
        return None


class device_of(device):  # noqa: N801  (mirrors torch.cuda.device_of)
    """``with torch.cuda.device_of(tensor)``: accepted and ignored on the CPU."""

    def __init__(self, obj: Any) -> None:
        super().__init__(0)


def _no_graphs(api: str) -> Any:

    return MissingApiError(f"{api} has no equivalent on the cpu target (no graph capture on the CPU)",
                           "run the callables eagerly, or use torch.cuda.make_graphed_callables (returned unchanged here)")


class CUDAGraph:
    """No graph capture on the CPU: constructing one is a one-line error naming the API."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_graphs("torch.cuda.CUDAGraph")


class graph:  # noqa: N801  (mirrors torch.cuda.graph)
    """No graph capture on the CPU: ``with torch.cuda.graph(g)`` is a one-line error naming the API."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _no_graphs("torch.cuda.graph")
