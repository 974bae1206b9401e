"""torch_npu's own ``transfer_to_npu`` test suite (Ascend pytorch, ``test/contrib/test_transfer_to_npu.py``),
restated for the cpu target: each case checks the behaviour the vendor's case checks, where the
vendor expects "npu" we expect the target. Cases about the vendor's private helpers (its JSON
config loader, its file checks, its profiler config wrapper) have no counterpart here and are left out.
"""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch.nn.parameter import UninitializedTensorMixin
from torch.utils.data import TensorDataset

TARGET = "cpu"


@pytest.fixture
def shim_keep():
    import npu_compat

    npu_compat.revert()
    session = npu_compat.apply(device="cpu", autocast="keep")
    try:
        yield session
    finally:
        npu_compat.revert()


def test_isinstance_still_works_and_cuda_device_minus_one(shim_keep):
    assert isinstance(1, int) and isinstance(1, (int, str)) and not isinstance(1, str)
    with pytest.raises(TypeError):
        isinstance(1, [str, int])  # type: ignore[arg-type]
    assert not isinstance(1, torch.device)
    torch.cuda.device(-1)
    assert isinstance(torch.Generator(device="cuda"), torch.Generator)
    assert isinstance(torch.Event(device="cuda"), torch.Event)


def test_cuda_amp_namespace_works_on_the_target(shim_keep):
    with pytest.warns(FutureWarning):
        ctx = torch.cuda.amp.autocast(dtype=torch.bfloat16)
    with ctx:
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with pytest.warns(FutureWarning):
        scaler = torch.cuda.amp.GradScaler()
    assert scaler._device == TARGET


def test_device_cuda_0_after_set_device(shim_keep):
    device = torch.device("cuda:0")
    torch.cuda.set_device(device)
    a = torch.randint(1, 5, (2, 3), device=device)
    assert a.device.type == TARGET


def test_int_device_ids(shim_keep):
    a = torch.rand(1)
    device_id = torch.cuda.current_device()
    assert a.to(device=device_id).device.type == TARGET
    assert a.to(device_id).device.type == TARGET
    assert torch.tensor(1, device=device_id).device.type == TARGET


def test_autocast_cuda_positional_and_keyword(shim_keep):
    a = torch.randn([3, 3], device="cuda")
    b = torch.randn([3, 3], device="cuda")
    before = (a @ b).dtype
    with torch.autocast("cuda"):
        positional = (a @ b).dtype
    with torch.autocast(device_type="cuda"):
        keyword = (a @ b).dtype
    assert before != positional and positional == keyword


def test_meta_device_context(shim_keep):
    with torch.device("meta"):
        out = torch.nn.Linear(32, 8)
    assert out.weight.device.type == "meta"


def test_set_default_device_cuda():
    import npu_compat

    npu_compat.revert()
    npu_compat.apply(device="cpu")
    try:
        torch.set_default_device("cuda")
        assert torch.tensor(1).device.type == TARGET
        torch.set_default_device("meta")  # a device the user names is left alone
        assert torch.tensor(1).device.type == "meta"
    finally:
        torch.set_default_device(None)
        npu_compat.revert()


def test_device_context_cuda(shim_keep):
    with torch.device("cuda"):
        a = torch.tensor(1)
    assert a.device.type == TARGET


def test_data_loader_pin_memory_with_workers(shim_keep):
    """The vendor expects pinned batches; the cpu target has no pinned memory, so the rule says
    so (a no-op row) and the loader runs instead of failing for want of CUDA."""
    images = torch.arange(10 * 5, dtype=torch.float32).view(10, 5)
    labels = torch.arange(10 * 5, dtype=torch.float32).view(10, 5)
    loader = torch.utils.data.DataLoader(TensorDataset(images, labels), num_workers=2, pin_memory=True,
                                         pin_memory_device="cuda")
    images0, _ = next(iter(loader))
    assert torch.equal(images0[0], images[0]) and not images0.is_pinned()
    assert any(c["rule"] == "pin_memory.DataLoader" for c in shim_keep.report.calls())


def test_uninitialized_parameters_move_with_the_patched_to(shim_keep):
    """The vendor checks that the ``to`` lazy parameters allow is the replaced one; the behaviour
    behind it: a lazy module moved to "cuda" before its first call initialises on the target."""
    names = {m.__name__ for m in UninitializedTensorMixin._allowed_methods}
    assert "to" in names
    m = torch.nn.LazyLinear(4).to("cuda")
    out = m(torch.ones(2, 3, device="cuda"))
    assert out.shape == (2, 4) and m.weight.device.type == TARGET


def test_nccl_becomes_the_targets_backend(shim_keep, tmp_path):
    import torch.distributed as dist

    dist.init_process_group("nccl", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    try:
        assert dist.get_backend() == "gloo"
        group = dist.new_group([0], backend="nccl")
        assert dist.get_backend(group) == "gloo"
        t = torch.ones(2, device="cuda")
        dist.all_reduce(t)
        assert t.tolist() == [1.0, 1.0]
    finally:
        dist.destroy_process_group()


def test_libraries_see_the_real_availability(shim_keep):
    namespace = {"__name__": "accelerate.utils.imports", "torch": torch}
    exec("def probe():\n    return torch.cuda.is_available()\n", namespace)
    assert namespace["probe"]() is False and torch.cuda.is_available() is True


def test_cuda_values_in_dicts_are_mapped(shim_keep):
    mapper = shim_keep.patcher.ctx.mapper
    assert mapper.map({"cuda:0": "cuda:1", "cpu": "cpu"}) == {"cuda:0": TARGET, "cpu": "cpu"}


def test_hccl_for_nccl_in_args_and_kwargs():
    from npu_compat.rules.distributed import map_backend
    from npu_compat.target import resolve_target

    cpu = resolve_target("cpu", environ={})
    assert map_backend("nccl", cpu) == "gloo" and map_backend("NCCL", cpu) == "gloo"
    assert map_backend("cpu:gloo,cuda:nccl", cpu) == "cpu:gloo"
    assert map_backend("gloo", cpu) == "gloo"


def test_without_the_shim_these_cases_fail_here():
    """The restated cases are not vacuous: on this GPU-less host they fail without the shim."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    for case in (lambda: torch.randint(1, 5, (2,), device="cuda"), lambda: torch.rand(1).to(0),
                 lambda: torch.set_default_device("cuda") or torch.tensor(1)):
        with pytest.raises((RuntimeError, AssertionError)):
            case()
        torch.set_default_device(None)
    with contextlib.suppress(Exception), torch.autocast("cuda"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32  # CUDA autocast off: no GPU
