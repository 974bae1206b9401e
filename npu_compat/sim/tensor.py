"""Tensors of the simulated npu (a TEST DOUBLE of the Ascend stack): ``npu:N`` tensors whose data
lives in a host tensor.

A :class:`SimulatedNpuTensor` is a wrapper subclass (``Tensor._make_wrapper_subclass``) with a
real ``device`` of ``npu:N`` on the PrivateUse1 key, holding its host data in ``_host``. Views
hold host views of their base's host data, so in-place writes through a view reach the base as
on a device. ``torch._C._acc.create_empty_tensor`` makes PrivateUse1 tensors too, but only on
index 0; the wrapper carries any index, so ``npu:0`` and ``npu:1`` stay distinct.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

import torch

# host data of live device tensors (by id, weakly), for memory statistics; each knows its device index
LIVE: "weakref.WeakValueDictionary[int, torch.Tensor]" = weakref.WeakValueDictionary()
USED: set[int] = set()  # device indices this process has made tensors on
# every op on these tensors: npu_compat.sim.dispatch.dispatch, which sets it when it loads (it builds on this module)
_DISPATCH: Callable[[Any, tuple[Any, ...], dict[str, Any]], Any] | None = None


def set_dispatcher(dispatch: Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]) -> None:
    global _DISPATCH
    _DISPATCH = dispatch


class SimulatedNpuTensor(torch.Tensor):
    """An ``npu:N`` tensor of the simulated npu (test double): host storage, device semantics."""

    _host: torch.Tensor

    @staticmethod
    def __new__(cls, host: torch.Tensor, device: torch.device) -> "SimulatedNpuTensor":
        t = torch.Tensor._make_wrapper_subclass(cls, host.size(), strides=host.stride(),
                                                storage_offset=host.storage_offset(), dtype=host.dtype,
                                                device=device, requires_grad=False)
        t._host = host
        host._sim_npu_index = device.index
        USED.add(device.index)
        LIVE[id(host)] = host
        return t

    @classmethod
    def __torch_dispatch__(cls, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        return _DISPATCH(func, args, kwargs or {})  # type: ignore[misc]

    def as_subclass(self, cls: type) -> torch.Tensor:  # type: ignore[override]
        """``as_subclass`` of a wrapper would rebind its Python object; make a wrapper of both types instead."""
        if cls is torch.Tensor or issubclass(cls, SimulatedNpuTensor):
            kind = SimulatedNpuTensor if cls is torch.Tensor else cls
        else:
            kind = _COMBINED.get(cls)
            if kind is None:
                kind = _COMBINED[cls] = type(f"SimulatedNpu{cls.__name__}", (SimulatedNpuTensor, cls), {})
        return SimulatedNpuTensor.__new__(kind, self._host, self.device)

    def numpy(self, *, force: bool = False) -> Any:  # type: ignore[override]
        raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                        "tensor to host memory first.")

    def tolist(self) -> Any:  # type: ignore[override]
        """As on a device: a copy to the host (one d2h copy and sync), then the values."""
        from npu_compat.sim.counters import COUNTERS

        COUNTERS.copy("d2h")
        return self._host.tolist()

    def __repr__(self, *, tensor_contents: Any = None) -> str:  # noqa: D105
        with torch._C.DisableTorchFunctionSubclass():
            return f"{self._host!r} (simulated {self.device})"


_COMBINED: dict[type, type] = {}


def is_device_tensor(value: Any) -> bool:
    return isinstance(value, SimulatedNpuTensor)


def host_of(value: Any) -> Any:
    """The host data of every device tensor in ``value`` (nested lists and tuples)."""
    if isinstance(value, SimulatedNpuTensor):
        return value._host
    if isinstance(value, (list, tuple)):
        return type(value)(host_of(v) for v in value)
    return value


def on_device(value: Any, device: torch.device) -> Any:
    """Wrap every host tensor in ``value`` as a device tensor on ``device``."""
    if isinstance(value, torch.Tensor) and not isinstance(value, SimulatedNpuTensor):
        return SimulatedNpuTensor(value, device)
    if isinstance(value, (list, tuple)):
        return type(value)(on_device(v, device) for v in value)
    return value


def tensors_in(values: Any) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found += [v for v in value if isinstance(v, torch.Tensor)]
    return found


__all__ = ["LIVE", "USED", "SimulatedNpuTensor", "is_device_tensor", "host_of", "on_device", "tensors_in"]
