import zipfile

import pytest
import torch

from npu_compat.rules.device_params import find_device_params

PARAMS = find_device_params()
FACTORIES = tuple(p.name for p in PARAMS if p.owner == "torch")
TENSOR_NEW = tuple(p.name for p in PARAMS if p.owner == "torch.Tensor")


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn", "arange", "tensor", "full", "eye", "linspace"])
def test_factories_with_device_cuda_land_on_the_target(shim_cpu, name):
    args = {"zeros": (2,), "ones": (2,), "empty": (2,), "rand": (2,), "randn": (2,), "arange": (3,),
            "tensor": ([1, 2],), "full": ((2,), 1.0), "eye": (2,), "linspace": (0, 1, 3)}[name]
    for dev in ("cuda", "cuda:0", torch.device("cuda"), 0):
        assert getattr(torch, name)(*args, device=dev).device.type == "cpu"


def test_the_generated_factory_list_covers_torchs_factories_and_installs(shim_cpu):
    """Found from torch's own signatures: the well-known factories must be among them."""
    assert {"zeros", "empty", "arange", "tensor", "as_tensor", "asarray", "normal", "scalar_tensor", "randperm",
            "sparse_compressed_tensor", "sparse_coo_tensor", "full_like"} <= set(FACTORIES)
    assert {"new_empty", "new_empty_strided", "new_full", "new_ones", "new_tensor", "new_zeros"} <= set(TENSOR_NEW)
    assert {p.name for p in PARAMS if p.owner == "torch.fft"} >= {"fftfreq", "rfftfreq"}
    assert "set_default_device" not in FACTORIES and "cuda" not in TENSOR_NEW  # own rows
    statuses = {r.key: r.status for r in shim_cpu.report.rules}
    for p in PARAMS:
        assert statuses["device." + p.path.replace("torch.Tensor.", "Tensor.")] == "installed", p.path


def test_device_in_fft_and_sparse_factories(shim_cpu):
    assert torch.fft.fftfreq(4, device="cuda").device.type == "cpu"
    assert torch.fft.rfftfreq(4, device="cuda:0").device.type == "cpu"
    csr = torch.sparse_compressed_tensor(torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([1.0]), (1, 1),
                                         layout=torch.sparse_csr, device="cuda")
    assert csr.device.type == "cpu"
    assert torch.nested.nested_tensor([torch.ones(2), torch.ones(3)], device="cuda").device.type == "cpu"


def test_tensor_new_methods_to_and_cuda(shim_cpu):
    x = torch.ones(2)
    for name in TENSOR_NEW:
        method = getattr(x, name)
        arg = {"new_empty": ((2,),), "new_empty_strided": ((2,), (1,)), "new_full": ((2,), 3.0),
               "new_ones": ((2,),), "new_tensor": ([1.0],), "new_zeros": ((2,),)}[name]
        assert method(*arg, device="cuda").device.type == "cpu"
    assert x.to("cuda").device.type == "cpu"
    assert x.to("cuda", torch.float16).dtype == torch.float16
    assert x.to(device="cuda:0", non_blocking=True).device.type == "cpu"
    assert x.cuda().device.type == "cpu" and x.cuda(0).device.type == "cpu"
    assert x.to(torch.float64).dtype == torch.float64  # not a device: untouched


def test_module_to_cuda_and_to_empty(shim_cpu):
    m = torch.nn.Linear(2, 2)
    assert m.cuda() is m and m.weight.device.type == "cpu"
    assert m.to("cuda").weight.device.type == "cpu"
    meta = torch.nn.Linear(2, 2, device="meta")
    assert meta.to_empty(device="cuda").weight.device.type == "cpu"


def test_default_device_and_device_context(shim_cpu):
    with torch.device("cuda"):
        assert torch.zeros(1).device.type == "cpu"
    torch.set_default_device("cuda")
    try:
        assert torch.zeros(1).device.type == "cpu"
    finally:
        torch.set_default_device(None)


def test_pin_memory_is_a_no_op_on_a_target_without_it(shim_cpu):
    x = torch.ones(3)
    assert x.pin_memory() is x
    assert torch.empty(3, pin_memory=True).shape == (3,)
    loader = torch.utils.data.DataLoader(list(range(4)), batch_size=2, pin_memory=True)
    assert loader.pin_memory is False and [b.tolist() for b in loader] == [[0, 1], [2, 3]]


def _cuda_saved_checkpoint(tmp_path):
    """A checkpoint whose storages are tagged 'cuda:0', as torch.save writes them on a GPU.

    Made by saving on the CPU and rewriting the location string opcode in data.pkl
    (BINUNICODE 'cpu' -> 'cuda:0'); lengths are explicit, so nothing else moves.
    """
    path = tmp_path / "cpu.pt"
    torch.save({"w": torch.arange(4.0)}, path)
    out = tmp_path / "cuda.pt"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("data.pkl"):
                old, new = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"
                assert old in data
                data = data.replace(old, new)
            zout.writestr(item, data)
    return out


def test_torch_load_of_a_cuda_saved_checkpoint(tmp_path):
    path = _cuda_saved_checkpoint(tmp_path)
    with pytest.raises(RuntimeError, match="CUDA|NVIDIA|cuda"):
        torch.load(path, weights_only=True)  # without the shim: the classic failure
    import npu_compat

    npu_compat.revert()
    session = npu_compat.apply(device="cpu")
    try:
        loaded = torch.load(path, weights_only=True)  # map_location=None
        assert loaded["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and loaded["w"].device.type == "cpu"
        assert torch.load(path, map_location="cuda", weights_only=True)["w"].device.type == "cpu"
        sites = [c for c in session.report.calls() if c["rule"] == "device.torch.load"]
        assert sites and sites[0]["old"] == "cuda"
    finally:
        npu_compat.revert()


def test_devices_the_user_names_are_left_alone(shim_cpu):
    """Only "cuda" (and its int and cuda:N forms) is redirected."""
    assert torch.zeros(2, device="meta").device.type == "meta"
    assert torch.ones(2).to("meta").device.type == "meta"
    assert torch.nn.Linear(2, 2).to("meta").weight.device.type == "meta"
    assert torch.nn.Linear(2, 2, device="meta").weight.device.type == "meta"
    with torch.device("meta"):
        assert torch.nn.Linear(4, 4).weight.device.type == "meta"
        assert torch.empty(3).device.type == "meta"
    with torch.device("cpu"):
        assert torch.empty(3).device.type == "cpu"
    torch.set_default_device("meta")
    try:
        assert torch.tensor([1.0]).device.type == "meta"
    finally:
        torch.set_default_device(None)
    mapper = shim_cpu.patcher.ctx.mapper
    for value in ("npu", "npu:1", torch.device("xpu", 0), "meta", "cpu", "mps"):
        assert mapper.map(value, True) is value, value
    fired = [c for c in shim_cpu.report.calls() if c["file"] == __file__]
    assert not fired, fired  # nothing above was a CUDA value: no rule fired


def test_storage_cuda_in_a_map_location_callable(shim_cpu, tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.arange(4.0)}, path)
    loaded = torch.load(path, map_location=lambda storage, loc: storage.cuda())
    assert loaded["w"].device.type == "cpu" and loaded["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert torch.UntypedStorage(4).cuda().device.type == "cpu"
    assert any(c["rule"] in ("device.UntypedStorage.cuda", "device.TypedStorage.cuda") for c in shim_cpu.report.calls())


def test_record_stream_is_a_no_op_on_the_cpu_target(shim_cpu):
    x = torch.ones(2, device="cuda")
    x.record_stream(torch.cuda.current_stream())
    assert any(c["rule"] == "stream.Tensor.record_stream" for c in shim_cpu.report.calls())


def test_without_the_shim_meta_context_and_storage_cuda_fail_or_differ():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(Exception):
        torch.UntypedStorage(4).cuda()
    with pytest.raises(Exception):
        torch.fft.fftfreq(4, device="cuda")


def test_tensor_type_with_a_cuda_type_lands_on_the_target(shim_cpu):
    x = torch.ones(2)
    for legacy in ("torch.cuda.HalfTensor", torch.cuda.HalfTensor):
        y = x.type(legacy)
        assert (y.dtype, y.device.type) == (torch.float16, "cpu")
    assert x.type() == "torch.FloatTensor" and x.type("torch.DoubleTensor").dtype == torch.float64
    assert x.type(torch.int32).dtype == torch.int32
    sites = [c for c in shim_cpu.report.calls() if c["rule"] == "device.Tensor.type"]
    assert len(sites) == 1 and sites[0]["count"] == 2 and sites[0]["new"] == "float16 on cpu", sites


def test_tensor_type_row_is_on_every_target_but_cuda():
    from npu_compat.rules.device_args import device_arg_rules
    from npu_compat.target import CAPABILITIES, Target

    for kind in ("npu", "xpu", "mps", "cpu"):
        assert "device.Tensor.type" in {r.key for r in device_arg_rules(Target(kind, None, CAPABILITIES[kind]))}, kind
    assert "device.Tensor.type" not in {r.key for r in device_arg_rules(Target("cuda", None, CAPABILITIES["cuda"]))}


def test_without_the_shim_tensor_type_reaches_cuda():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises((RuntimeError, AssertionError), match="NVIDIA driver|not compiled with CUDA"):
        torch.ones(2).type("torch.cuda.HalfTensor")


def test_dataloader_pin_memory_given_positionally_is_turned_off(shim_cpu):
    # DataLoader(dataset, batch_size, shuffle, sampler, batch_sampler, num_workers, collate_fn, pin_memory)
    loader = torch.utils.data.DataLoader([1, 2, 3], 2, False, None, None, 0, None, True)
    assert loader.pin_memory is False
    assert [c["line"] for c in shim_cpu.report.calls() if c["rule"] == "pin_memory.DataLoader"]
