"""The captured prompt path against eager, on one model in one process: time per prompt and device work per prompt.

- ``time_capture``: a prompt batch on a cached image (text features cached), eager and through
  ``CapturedPrompts`` (graph or compile), rounds interleaved; the first captured call (capture or compile) is
  timed apart.
- ``count_capture``: per prompt, with the kit's op counter (``op_counter.DispatchCounter``): device ops and host
  syncs of the whole path (grounding, detection selection, masks to the host in blocks, as ``counts.kit_grounding``
  does), the ops dispatched outside a graph replay, and the replays per prompt batch. Ops that a replay runs are
  not counted as dispatched (on hardware a replay is one launch); on the simulated npu the replay re-runs them
  in Python, so they are paused out of the counter.

``tools/bench.py capture`` runs both (``bench.suite.bench_capture``; ``--device npu`` under ``NPU_COMPAT_SIMULATE``
for the simulated npu's graph counts; the cpu target times the compiled path).
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterator

import torch

from npu_compat.bench.counts import kit_grounding
from npu_compat.bench.op_counter import DispatchCounter
from npu_compat.sam3 import batched_prompts as bp
from npu_compat.sam3.captured_prompts import CapturedPrompts


@contextlib.contextmanager
def counted_replays(device: torch.device, counter: DispatchCounter | None, seen: list[int],
                    graph_class: Any = None) -> Iterator[None]:
    """While the block runs, each graph replay on ``device`` appends to ``seen`` and is not counted by ``counter``
    (``graph_class``: the device's ``CUDAGraph``/``NPUGraph`` unless given)."""
    if graph_class is None:
        module = getattr(torch, device.type, None)
        graph_class = getattr(module, "CUDAGraph", None) or getattr(module, "NPUGraph", None)
    if graph_class is None:
        yield
        return
    original = graph_class.replay

    def replay(self: Any) -> None:
        seen.append(1)
        with counter.pause() if counter is not None else contextlib.nullcontext():
            original(self)

    graph_class.replay = replay
    try:
        yield
    finally:
        graph_class.replay = original


def _grounder(capture: CapturedPrompts | None, model: torch.nn.Module,
              device: torch.device) -> Callable[[Any, Any, int], bp.GroundingResult]:
    if capture is None:
        return lambda feats, text, batch: bp.ground_prompts(model, feats, text, device, batch)
    return lambda feats, text, batch: capture.ground_prompts(feats, text, batch)


def count_capture(model: torch.nn.Module, device: torch.device, feats: Any, text: Any, prompt_batch: int,
                  mode: str, backend: str = "inductor") -> list[dict[str, Any]]:
    """Rows ``eager`` and ``captured (<mode>)``: per prompt, after one warm (capturing) pass."""
    rows = []
    prompts = len(text.prompts)
    batches = -(-prompts // prompt_batch)
    captured = CapturedPrompts(model, device, mode, backend=backend)
    for name, capture in (("eager", None), (f"captured ({captured.mode})", captured)):
        ground = _grounder(capture, model, device)
        kit_grounding(model, feats, text, device, prompt_batch, ground=ground)  # warm: capture/compile here
        seen: list[int] = []
        with DispatchCounter(host_reads=True) as counter, counted_replays(device, counter, seen):
            kit_grounding(model, feats, text, device, prompt_batch, counter.pause, ground=ground)
        counts = counter.counts
        rows.append({"name": f"prompt path, {prompts} prompts, {prompt_batch} per batch: {name}",
                     "ops_outside_graph_per_prompt": counts.ops / prompts,
                     "kernels_outside_graph_per_prompt": counts.kernels / prompts,
                     "syncs_per_prompt": counts.syncs / prompts,
                     "replays_per_batch": len(seen) / batches,
                     "fallbacks": {str(k): v for k, v in (capture.fallbacks() if capture else {}).items()},
                     "sync_sites": dict(counts.sites.most_common(8))})
    return rows


def time_capture(model: torch.nn.Module, device: torch.device, feats: Any, text: Any, prompt_batch: int,
                 mode: str, backend: str = "inductor", rounds: int = 3) -> dict[str, Any]:
    """Seconds per prompt, eager and captured, rounds interleaved on the same model and inputs."""
    capture = CapturedPrompts(model, device, mode, strict=True, backend=backend)
    sync = getattr(getattr(torch, device.type, None), "synchronize", None) if device.type != "cpu" else None

    def timed(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        return time.perf_counter() - start

    eager = lambda: bp.ground_prompts(model, feats, text, device, prompt_batch)  # noqa: E731
    captured = lambda: capture.ground_prompts(feats, text, prompt_batch)  # noqa: E731
    first = timed(captured)  # capture or compile of every bucket
    eager_times, captured_times = [], []
    for _ in range(rounds):
        eager_times.append(timed(eager))
        captured_times.append(timed(captured))
    prompts = len(text.prompts)
    eager_s, captured_s = min(eager_times) / prompts, min(captured_times) / prompts
    return {"mode": capture.mode, "backend": backend if capture.mode == "compile" else None,
            "prompts": prompts, "prompt_batch": prompt_batch, "rounds": rounds,
            "first_call_s": first, "eager_s_per_prompt": eager_s, "captured_s_per_prompt": captured_s,
            "speedup": eager_s / captured_s}


__all__ = ["count_capture", "time_capture", "counted_replays"]
