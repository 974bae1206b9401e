"""Sharding a run over devices under ``torchrun``: rank, world size, backend, device per rank.

Each rank takes every ``world``-th image of the full list (after nothing else: resume filtering
happens per rank, so shards stay disjoint whatever was done before). The process group uses the
backend the target maps to (hccl on npu, nccl on cuda, gloo on cpu) and is used for barriers only;
results travel through the per-rank JSONL logs in a shared folder, and rank 0 merges them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ShardInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def shard_from_env(environ: Mapping[str, str] | None = None) -> ShardInfo:
    """Rank layout from torchrun's RANK / WORLD_SIZE / LOCAL_RANK (one process when absent)."""
    env = os.environ if environ is None else environ
    return ShardInfo(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def device_for_rank(device: str | None, shard: ShardInfo) -> str | None:
    """``npu`` -> ``npu:<local_rank>`` under torchrun; cpu and explicit indices stay as given.

    With no device given, the one the shim would pick (``NPU_COMPAT_DEVICE``, else auto-detection)
    gets the rank's index too: otherwise every rank lands on device 0.
    """
    if not shard.distributed:
        return device
    if device is None:
        from npu_compat.target import resolve_target

        device = str(resolve_target(None).device())
    if device == "cpu" or ":" in device:
        return device
    return f"{device}:{shard.local_rank}"


def take_shard(items: Sequence[T], shard: ShardInfo) -> list[T]:
    return list(items[shard.rank::shard.world_size])


def init_process_group(shard: ShardInfo, backend: str) -> None:
    """Join torchrun's process group with ``backend``; a no-op for one process."""
    if not shard.distributed:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=shard.rank, world_size=shard.world_size)


def barrier(shard: ShardInfo) -> None:
    if shard.distributed:
        import torch.distributed as dist

        dist.barrier()


def destroy_process_group(shard: ShardInfo) -> None:
    if shard.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
