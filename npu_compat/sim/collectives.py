"""The simulated npu's ``hccl`` process group (a TEST DOUBLE of HCCL): a gloo group on the host
that also carries ``npu`` tensors.

Each collective on device tensors copies them to the host (counted as d2h), runs the gloo
collective there, and copies the results back into the device tensors in place (counted as h2d),
then returns a completed Work. Host tensors go to gloo as they are. Only the collectives that
``DistributedDataParallel`` and sam3's trainer use are provided: broadcast, allreduce, allgather
(and its single-tensor form, ``all_gather_into_tensor``) and barrier. Everything runs synchronously; a real HCCL overlaps.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch._C._distributed_c10d import Backend as _CBackend


class _Done(dist._Work):
    """A finished collective: ``wait`` returns at once, the future holds the output tensors."""

    def __init__(self, result: list[torch.Tensor]) -> None:
        super().__init__()
        self._future: torch.futures.Future = torch.futures.Future()
        self._future.set_result(result)

    def wait(self, timeout: Any = None) -> bool:
        return True

    def get_future(self) -> torch.futures.Future:
        return self._future

    def is_completed(self) -> bool:
        return True

    def is_success(self) -> bool:
        return True


def _host(t: torch.Tensor) -> torch.Tensor:
    return t.cpu() if t.device.type == "npu" else t  # the d2h copy is counted by the device's copy kernel


def _back(device_tensors: list[torch.Tensor], host_tensors: list[torch.Tensor]) -> None:
    for dev, host in zip(device_tensors, host_tensors):
        if dev is not host:
            dev.copy_(host)  # h2d, counted by the device's copy kernel


class SimulatedHccl(_CBackend):
    """``hccl`` on the simulated npu: gloo on host copies of the tensors."""

    def __init__(self, store: Any, rank: int, size: int, timeout: Any) -> None:
        super().__init__(rank, size)
        self._gloo = dist.ProcessGroupGloo(store, rank, size, timeout)

    def getBackendName(self) -> str:  # noqa: N802 (c10d's name)
        return "hccl"

    def broadcast(self, tensors: list[torch.Tensor], opts: Any) -> _Done:
        host = [_host(t) for t in tensors]
        self._gloo.broadcast(host, opts).wait()
        _back(tensors, host)
        return _Done(tensors)

    def allreduce(self, tensors: list[torch.Tensor], opts: Any) -> _Done:
        host = [_host(t) for t in tensors]
        self._gloo.allreduce(host, opts).wait()
        _back(tensors, host)
        return _Done(tensors)

    def allgather(self, outputs: list[list[torch.Tensor]], inputs: list[torch.Tensor], opts: Any) -> _Done:
        host_out = [[_host(t) for t in group] for group in outputs]
        self._gloo.allgather(host_out, [_host(t) for t in inputs], opts).wait()
        for group, host_group in zip(outputs, host_out):
            _back(group, host_group)
        return _Done([t for group in outputs for t in group])

    def all_gather_single(self, output: torch.Tensor, input: torch.Tensor, opts: Any) -> _Done:  # noqa: A002
        host_out = _host(output)
        self._gloo._allgather_base(host_out, _host(input), opts).wait()
        _back([output], [host_out])
        return _Done([output])

    def barrier(self, opts: Any) -> _Done:
        self._gloo.barrier(opts).wait()
        return _Done([])


def create(store: Any, rank: int, size: int, timeout: Any) -> SimulatedHccl:
    return SimulatedHccl(store, rank, size, timeout)


def register() -> None:
    """Register ``hccl`` for host and npu tensors (once per process)."""
    if not dist.is_available() or "hccl" in dist.Backend.backend_list:
        return
    dist.Backend.register_backend("hccl", create, devices=["cpu", "npu"])


__all__ = ["SimulatedHccl", "create", "register"]
