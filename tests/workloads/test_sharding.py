"""Tests for npu_compat.workloads.sharding (the torchrun end-to-end check is in tests/tools/test_coco_eval.py)."""
from __future__ import annotations

from npu_compat.workloads.sharding import ShardInfo, device_for_rank, shard_from_env, take_shard


def test_shards_are_disjoint_and_cover_everything():
    items = list(range(11))
    shards = [take_shard(items, ShardInfo(r, 3, r)) for r in range(3)]
    assert sorted(sum(shards, [])) == items
    assert all(not set(a) & set(b) for i, a in enumerate(shards) for b in shards[i + 1:])


def test_env_and_device_per_rank():
    shard = shard_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (shard.rank, shard.world_size, shard.local_rank, shard.is_main) == (3, 4, 1, False)
    assert device_for_rank("npu", shard) == "npu:1"
    assert device_for_rank("npu:5", shard) == "npu:5"
    assert device_for_rank("cpu", shard) == "cpu"
    assert device_for_rank("npu", shard_from_env({})) == "npu"
