"""How a CUDA device value becomes a target device value.

Strings (``"cuda"``, ``"cuda:1"``), ``torch.device``, ints (a CUDA ordinal) and dicts
(``map_location``) are mapped; anything else is returned unchanged, *as the same object*,
so callers can test ``new is not old`` to know whether a redirect happened.
"""
from __future__ import annotations

from typing import Any

import torch

from npu_compat.target import Target


class DeviceMapper:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.type = target.type
        self._cache: dict[Any, Any] = {}

    def _for_index(self, index: int | None) -> torch.device:
        if self.type == "cpu":
            return torch.device("cpu")
        if index is None:
            return self.target.device()
        return torch.device(self.type, index)

    def map(self, value: Any, ints: bool = False) -> Any:
        """Map one device value; ``ints=True`` when a bare int means a CUDA ordinal."""
        kind = type(value)
        if kind is str:
            if not value.startswith("cuda"):
                return value
            hit = self._cache.get(value)
            if hit is None:
                _, _, idx = value.partition(":")
                hit = self._cache[value] = str(self._for_index(int(idx) if idx else None))
            return hit
        if kind is torch.device:
            if value.type != "cuda":
                return value
            return self._for_index(value.index)
        if ints and kind is int and value >= 0:
            return self._for_index(value)
        if kind is dict:
            mapped = {k: self.map(v) for k, v in value.items()}
            return mapped if any(mapped[k] is not value[k] for k in value) else value
        return value

    def map_type(self, device_type: Any) -> Any:
        """Map a bare device *type* (``"cuda"`` in autocast, custom_fwd, GradScaler)."""
        if device_type == "cuda":
            return self.type
        return device_type

    def map_ids(self, ids: Any) -> Any:
        """Map ``device_ids``; on the cpu target they must be None."""
        if ids is None:
            return None
        if self.type == "cpu":
            return None
        return [self.map(i, ints=True) for i in ids]
