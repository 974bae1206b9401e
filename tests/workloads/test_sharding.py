"""Tests for npu_compat.workloads.sharding (the torchrun end-to-end check is in tests/commands/test_coco_eval.py)."""
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


def test_no_device_under_torchrun_takes_the_local_rank_on_the_simulated_npu():
    """No --device: auto-detection finds the simulated npu (a test double of the Ascend stack),
    and each rank still gets its own index, as docs/workloads.md promises."""
    from tests.sim.conftest import run_sim

    out = run_sim("""
from npu_compat.workloads.sharding import ShardInfo, device_for_rank
out["ranks"] = [device_for_rank(None, ShardInfo(rank, 2, rank)) for rank in (0, 1)]
out["single"] = device_for_rank(None, ShardInfo(0, 1, 0))
""")
    assert out["ranks"] == ["npu:0", "npu:1"]
    assert out["single"] is None  # one process: the shim resolves the device as always


def test_no_device_from_the_environment_takes_the_local_rank(monkeypatch):
    monkeypatch.setenv("NPU_COMPAT_DEVICE", "cpu")
    assert device_for_rank(None, ShardInfo(1, 2, 1)) == "cpu"
