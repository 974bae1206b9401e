"""Graph capture on the simulated npu (a TEST DOUBLE of torch_npu's NPUGraph / ACL graph capture).

``torch.npu.NPUGraph``, ``torch.npu.graph(g)`` and ``torch.npu.make_graphed_callables`` as torch_npu
spells them (after CUDA's). While a graph captures, every device op that reaches the simulated device
(the fallback and the copy kernel in :mod:`npu_compat.sim.dispatch`) is recorded with its tensors;
``replay()`` runs the recorded ops again on those same tensors, so it reads the captured input
buffers' current values and writes the captured outputs in place (static buffers, as on hardware).

What hardware cannot capture is refused here too, with the op and the user's call site: a host sync
(``.item()``, ``.cpu()``, ``nonzero`` and other data-dependent shapes, boolean-mask indexing,
``synchronize``) and a copy between host and device; a graphed callable refuses inputs of another shape
than it was captured with (graphs have static shapes). Unlike hardware the capture run also computes (its outputs hold values at once),
random ops draw new numbers at each replay from the device generator, and views made during capture
are not replayed (they are metadata; they keep aliasing their base).
"""
from __future__ import annotations

import contextlib
import linecache
import sys
from typing import Any, Callable, Iterator

import torch

from npu_compat.host_syncs import sync_kind


class GraphCaptureError(RuntimeError):
    """An operation that an NPU graph cannot capture, raised while a graph is capturing."""


_CAPTURING: "NPUGraph | None" = None


def capturing() -> "NPUGraph | None":
    return _CAPTURING


# Frames that are not the caller's code: torch, the simulator, and the shim's pass-through wrappers (a redirected
# ``Tensor.to`` runs in npu_compat/rules/wrappers.py; the op's site is the line that called ``.to``).
_NOT_CALLERS = ("/torch/", "/npu_compat/sim/", "/npu_compat/rules/", "/contextlib.py")


def _site() -> str:
    """The first frame outside torch, the simulator and the shim's wrappers: ``file:line: source``."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        if not any(part in name for part in _NOT_CALLERS):
            source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            return f"{frame.f_code.co_filename}:{frame.f_lineno}: {source}"
        frame = frame.f_back
    return "(internal)"


def _refuse(what: str, why: str) -> None:
    raise GraphCaptureError(f"NPUGraph capture: {what} is not permitted while the stream is capturing ({why}), "
                            f"at {_site()}. Move it out of the captured region.")


def check(name: str, base: str, args: tuple[Any, ...]) -> None:
    """Before a device op runs: refuse host syncs while capturing."""
    if _CAPTURING is not None:
        kind = sync_kind(base, args)
        if kind is not None:
            _refuse(name, f"a host sync: {kind}")


def check_sync(what: str) -> None:
    """``synchronize`` and event/stream waits on the host."""
    if _CAPTURING is not None:
        _refuse(what, "a host sync")


def check_copy(src: torch.device, dst: torch.device) -> None:
    if _CAPTURING is not None and (src.type == "npu") != (dst.type == "npu"):
        direction = "device-to-host" if src.type == "npu" else "host-to-device"
        _refuse(f"aten::_copy_from {src} -> {dst}", f"a {direction} copy")


def record(op: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    if _CAPTURING is not None:
        _CAPTURING._ops.append((op, args, dict(kwargs), result))


class NPUGraph:
    """An NPU graph: ``capture_begin()``/``capture_end()`` (or ``with torch.npu.graph(g)``), then ``replay()``."""

    def __init__(self, keep_graph: bool = False) -> None:
        self._ops: list[tuple[Any, tuple[Any, ...], dict[str, Any], Any]] = []
        self._captured = False

    def capture_begin(self, pool: Any = None, capture_error_mode: str = "global") -> None:
        global _CAPTURING
        if _CAPTURING is not None:
            raise GraphCaptureError("NPUGraph capture: another graph is already capturing")
        self._ops = []
        self._captured = False
        _CAPTURING = self

    def capture_end(self) -> None:
        global _CAPTURING
        if _CAPTURING is not self:
            raise GraphCaptureError("NPUGraph.capture_end() without capture_begin()")
        _CAPTURING = None
        self._captured = True

    def replay(self) -> None:
        """Run the captured ops again on the captured tensors (their current values)."""
        if not self._captured:
            raise GraphCaptureError("NPUGraph.replay() before a capture ended")
        for op, args, kwargs, result in self._ops:
            fresh = op(*args, **kwargs)
            _into(result, fresh)

    def reset(self) -> None:
        self._ops = []
        self._captured = False

    def pool(self) -> tuple[int, int]:
        return (0, id(self))

    def enable_debug_mode(self) -> None:
        return None

    def debug_dump(self, debug_path: str) -> None:
        with open(debug_path, "w", encoding="utf-8") as handle:
            handle.writelines(f"{op.name()}\n" for op, _, _, _ in self._ops)

    def replayed_ops(self) -> list[str]:
        """The names of the ops a replay runs (the simulator's own inspection, not torch_npu API)."""
        return [op.name() for op, _, _, _ in self._ops]


def _into(captured: Any, fresh: Any) -> None:
    """Write a replay's fresh functional results into the tensors the capture returned."""
    if isinstance(captured, torch.Tensor) and isinstance(fresh, torch.Tensor):
        if fresh is not captured and fresh.data_ptr() != captured.data_ptr():
            with torch.no_grad():
                captured.copy_(fresh)
    elif isinstance(captured, (list, tuple)) and isinstance(fresh, (list, tuple)):
        for c, f in zip(captured, fresh):
            _into(c, f)


@contextlib.contextmanager
def graph(npu_graph: NPUGraph, pool: Any = None, stream: Any = None,
          capture_error_mode: str = "global") -> Iterator[NPUGraph]:
    """``with torch.npu.graph(g): ...`` captures the block into ``g``."""
    npu_graph.capture_begin(pool=pool, capture_error_mode=capture_error_mode)
    try:
        yield npu_graph
    finally:
        npu_graph.capture_end()


def graph_pool_handle() -> tuple[int, int]:
    return (0, 0)


def is_current_stream_capturing() -> bool:
    return _CAPTURING is not None


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


class _Graphed:
    """A callable captured once on static inputs; each call copies its inputs in and replays."""

    def __init__(self, fn: Callable[..., Any], sample_args: tuple[Any, ...], warmup: int) -> None:
        self.fn = fn
        self.static_inputs = sample_args
        with torch.no_grad():
            for _ in range(warmup):
                fn(*sample_args)
            self.graph = NPUGraph()
            with graph(self.graph):
                self.static_outputs = fn(*sample_args)

    def __call__(self, *args: Any) -> Any:
        given, static = _tensors(args), _tensors(self.static_inputs)
        if len(given) != len(static):
            raise GraphCaptureError(f"a graphed callable takes {len(static)} tensors, got {len(given)}")
        with torch.no_grad():
            for s, g in zip(static, given):
                if s.shape != g.shape:
                    raise GraphCaptureError(f"a graphed callable was captured for shape {tuple(s.shape)}, got "
                                            f"{tuple(g.shape)} (graphs need static shapes)")
                if g is not s:
                    s.copy_(g)
        self.graph.replay()
        return self.static_outputs


def make_graphed_callables(callables: Any, sample_args: Any, num_warmup_iters: int = 3,
                           allow_unused_input: bool = False, pool: Any = None) -> Any:
    """Graphed versions of ``callables`` (a callable or a tuple of them) for inference: forward only, under
    ``no_grad``; a module keeps its class and gets the graphed ``forward``."""
    single = not isinstance(callables, tuple)
    fns = (callables,) if single else callables
    samples = (sample_args,) if single else sample_args
    out = []
    for fn, sample in zip(fns, samples):
        graphed = _Graphed(fn, tuple(sample), num_warmup_iters)
        if isinstance(fn, torch.nn.Module):
            fn.forward = graphed
            out.append(fn)
        else:
            out.append(graphed)
    return out[0] if single else tuple(out)


__all__ = ["NPUGraph", "GraphCaptureError", "graph", "make_graphed_callables", "graph_pool_handle",
           "is_current_stream_capturing", "capturing", "check", "check_copy", "check_sync", "record"]
