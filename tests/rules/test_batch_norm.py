"""SyncBatchNorm on the cpu target: two processes, statistics over the whole batch (gloo)."""
import re
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from tests.conftest import run_python

SCRIPT = str(Path(__file__).parent / "sync_batch_norm_script.py")


def test_sync_batch_norm_in_ddp_matches_batch_norm_over_the_whole_batch(tmp_path):
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--", SCRIPT, str(tmp_path / "init"), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(re.findall(r"rank (\d) max diff", proc.stdout)) == ["0", "1"], proc.stdout
    values = re.findall(r"(\w+)=(\d\.\d\de[+-]\d\d)", proc.stdout)  # the two ranks' lines may share a line of output
    assert len(values) == 8, proc.stdout
    for name, value in values:
        assert float(value) < 1e-4, (name, proc.stdout)


def _one_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'init1'}", rank=0, world_size=1)


def test_without_the_shim_torch_refuses_cpu_sync_batch_norm(tmp_path):
    _one_process_group(tmp_path)
    try:
        sync = torch.nn.SyncBatchNorm(3).train()
        with pytest.raises(ValueError, match="expected input tensor to be on GPU"):  # SyncBatchNorm.forward's check
            sync(torch.randn(4, 3, 2, 2))
        with pytest.raises(ValueError, match="SyncBatchNorm layers only work with GPU modules"):  # DDP's check
            DDP(torch.nn.Sequential(sync))
    finally:
        dist.destroy_process_group()


def test_one_process_group_runs_as_plain_batch_norm_and_is_reported(tmp_path, shim_cpu):
    _one_process_group(tmp_path)
    try:
        torch.manual_seed(0)
        x = torch.randn(4, 3, 2, 2)
        sync, plain = torch.nn.SyncBatchNorm(3).train(), torch.nn.BatchNorm2d(3).train()
        assert torch.allclose(DDP(torch.nn.Sequential(sync))(x), plain(x), atol=1e-5)
        assert torch.allclose(sync.running_var, plain.running_var, atol=1e-5)
    finally:
        dist.destroy_process_group()
    installed = {r.key for r in shim_cpu.report.rules if r.status == "installed"}
    assert {"batchnorm.SyncBatchNorm.forward", "batchnorm.DDP.sync_batchnorm_check"} <= installed
