"""The simulated npu's ``hccl`` (a test double of HCCL: gloo on host copies) carries npu tensors:
collectives across two ranks, and DistributedDataParallel on the simulated npu (``npu:0``, and with
``find_unused_parameters=True`` each rank on ``npu:<rank>``) gives the gradients that DDP over gloo
on the cpu gives. Each rank is a subprocess of its own (the simulator installs once
per process)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from npu_compat.sim import native_hooks
from tests.conftest import ROOT
from tests.sim.conftest import SIM

RANK_SCRIPT = textwrap.dedent("""
    import json, os, sys, torch
    import torch.distributed as dist
    from npu_compat import npu
    npu.load_torch_npu()
    from npu_compat.sim import counters
    rank = int(os.environ["RANK"])
    dist.init_process_group("hccl", rank=rank, world_size=2)
    out = {}
    t = torch.full((3,), float(rank + 1)).to("npu")
    counters.reset()
    dist.all_reduce(t)
    run = counters.snapshot()["run"]
    out["allreduce_copies"] = [run["d2h"], run["h2d"]]
    out["allreduce"] = t.cpu().tolist()
    out["allreduce_device"] = str(t.device)
    b = torch.full((2,), float(rank * 10)).to("npu")
    dist.broadcast(b, src=1)
    out["broadcast"] = b.cpu().tolist()
    gathered = [torch.zeros(2).to("npu") for _ in range(2)]
    dist.all_gather(gathered, torch.full((2,), float(rank)).to("npu"))
    out["allgather"] = [g.cpu().tolist() for g in gathered]
    flat = torch.zeros(4).to("npu")
    dist.all_gather_into_tensor(flat, torch.full((2,), float(rank)).to("npu"))
    out["allgather_into_tensor"] = flat.cpu().tolist()
    dist.barrier()
    # DDP: the same model and per-rank data on npu (hccl) and on the cpu (a gloo group)
    grads = {}
    for device, group in (("npu", None), ("cpu", dist.new_group(backend="gloo"))):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)).to(device)
        ddp = torch.nn.parallel.DistributedDataParallel(model, process_group=group)
        torch.manual_seed(rank + 1)
        x = torch.randn(5, 4).to(device)
        ddp(x).sum().backward()
        grads[device] = torch.cat([p.grad.cpu().flatten() for p in model.parameters()]).tolist()
    out["ddp_npu"], out["ddp_cpu"] = grads["npu"], grads["cpu"]
    # find_unused_parameters=True (sam3's trainer): the reducer stages through pinned host memory,
    # which needs the simulator's C++ hooks (a compiler); each rank on its own device, npu:<rank>
    from npu_compat.sim import native_hooks
    if native_hooks.state().available:
        from tests.sim.scripts.one_branch import OneBranch
        unused = {}
        for device, group in ((f"npu:{rank}", None), ("cpu", dist.new_group(backend="gloo"))):
            torch.manual_seed(0)
            model = OneBranch(1).to(device)
            ddp = torch.nn.parallel.DistributedDataParallel(model, process_group=group, find_unused_parameters=True)
            for step in range(2):
                torch.manual_seed(10 * step + rank)
                ddp(torch.randn(5, 4).to(device)).sum().backward()
            unused[device.split(":")[0]] = [str(model.used.weight.grad.device),
                                            model.used.weight.grad.cpu().flatten().tolist(),
                                            model.unused.weight.grad is None]
        out["unused_npu"], out["unused_cpu"] = unused["npu"], unused["cpu"]
    dist.destroy_process_group()
    print(json.dumps(out))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ranks() -> list[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    env.update({"PYTHONPATH": str(ROOT), "NPU_COMPAT_SIMULATE": SIM, "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(_free_port()), "OMP_NUM_THREADS": "1"})
    procs = [subprocess.Popen([sys.executable, "-c", RANK_SCRIPT], env={**env, "RANK": str(r)}, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def test_collectives_on_npu_tensors_reach_every_rank_in_place(ranks: list[dict]) -> None:
    for out in ranks:
        assert out["allreduce"] == [3.0, 3.0, 3.0] and out["allreduce_device"] == "npu:0"
        assert out["broadcast"] == [10.0, 10.0]
        assert out["allgather"] == [[0.0, 0.0], [1.0, 1.0]]
        assert out["allgather_into_tensor"] == [0.0, 0.0, 1.0, 1.0]


def test_the_collective_counts_its_host_copies(ranks: list[dict]) -> None:
    for out in ranks:
        assert out["allreduce_copies"] == [1, 1]  # to the host for gloo, back into the device tensor


def test_ddp_on_the_simulated_npu_gives_the_gradients_of_ddp_on_the_cpu(ranks: list[dict]) -> None:
    for out in ranks:
        assert out["ddp_npu"] == pytest.approx(out["ddp_cpu"], rel=1e-6)
    assert ranks[0]["ddp_npu"] == pytest.approx(ranks[1]["ddp_npu"], rel=1e-6)  # averaged across ranks


@pytest.mark.skipif(native_hooks.compiler() is None, reason="pinned memory on the simulated npu needs a C++ compiler")
def test_ddp_with_find_unused_parameters_on_each_ranks_device_matches_the_cpu(ranks: list[dict]) -> None:
    for rank, out in enumerate(ranks):
        device, grad, unused_has_no_grad = out["unused_npu"]
        assert device == f"npu:{rank}" and unused_has_no_grad and out["unused_cpu"][2]
        assert grad == pytest.approx(out["unused_cpu"][1], rel=1e-6)
    assert ranks[0]["unused_npu"][1] == pytest.approx(ranks[1]["unused_npu"][1], rel=1e-6)
