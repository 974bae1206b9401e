import pytest
import torch
import torch.distributed as dist

from npu_compat.rules.distributed import map_backend
from npu_compat.target import CAPABILITIES, Target


def test_backend_mapping_table():
    npu = Target("npu", None, CAPABILITIES["npu"])
    cpu = Target("cpu", None, CAPABILITIES["cpu"])
    assert map_backend("nccl", npu) == "hccl" and map_backend("NCCL", cpu) == "gloo"
    assert map_backend("cpu:gloo,cuda:nccl", npu) == "cpu:gloo,npu:hccl"
    assert map_backend("cpu:gloo,cuda:nccl", cpu) == "cpu:gloo"
    assert map_backend("gloo", npu) == "gloo"


def test_init_process_group_nccl_becomes_gloo_on_cpu(shim_cpu, tmp_path):
    dist.init_process_group("nccl", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    try:
        assert dist.get_backend() == "gloo"
        t = torch.ones(2, device="cuda")
        dist.all_reduce(t)
        assert t.tolist() == [1.0, 1.0]
        group = dist.new_group([0], backend="nccl")
        assert dist.get_backend(group) == "gloo"
    finally:
        dist.destroy_process_group()
    rules = {c["rule"] for c in shim_cpu.report.calls() if c["file"] == __file__}
    assert {"dist.init_process_group", "dist.new_group"} <= rules


def test_ddp_device_ids_on_cpu(shim_cpu, tmp_path):
    dist.init_process_group("nccl", init_method=f"file://{tmp_path}/store2", rank=0, world_size=1)
    try:
        model = torch.nn.Linear(2, 2).cuda()
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[0], output_device=0)
        assert ddp(torch.ones(1, 2, device="cuda")).shape == (1, 2)
    finally:
        dist.destroy_process_group()


def test_without_the_shim_nccl_is_refused_here():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert not dist.is_nccl_available() or not torch.cuda.is_available()
