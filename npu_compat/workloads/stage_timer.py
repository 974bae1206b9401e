"""Per-image stage timings with device synchronisation, summarised after a warm-up."""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np


class StageTimer:
    """Collect seconds per stage per image; ``summary`` skips the first ``warmup`` images."""

    def __init__(self, synchronize: Callable[[], None] = lambda: None, warmup: int = 0) -> None:
        self.synchronize = synchronize
        self.warmup = warmup
        self.samples: dict[str, list[float]] = defaultdict(list)
        self._current: dict[str, float] = {}
        self.images = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.synchronize()
            self._current[name] = self._current.get(name, 0.0) + time.perf_counter() - start

    def end_image(self) -> dict[str, float]:
        """Close the current image; its timings count only after the warm-up images."""
        done, self._current = self._current, {}
        if self.images >= self.warmup:
            for name, seconds in done.items():
                self.samples[name].append(seconds)
        self.images += 1
        return done

    def summary(self) -> dict[str, dict[str, float]]:
        return summarize(self.samples)


def summarize(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Milliseconds: count, mean, p50, p90 per stage."""
    out = {}
    for name, values in samples.items():
        if not values:
            continue
        arr = np.asarray(values) * 1000.0
        out[name] = {"count": int(arr.size), "mean_ms": float(arr.mean()),
                     "p50_ms": float(np.percentile(arr, 50)), "p90_ms": float(np.percentile(arr, 90))}
    return out


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    lines = [f"{'stage':<14}{'n':>6}{'mean ms':>12}{'p50 ms':>12}{'p90 ms':>12}"]
    for name, s in summary.items():
        lines.append(f"{name:<14}{s['count']:>6}{s['mean_ms']:>12.1f}{s['p50_ms']:>12.1f}{s['p90_ms']:>12.1f}")
    return "\n".join(lines)
