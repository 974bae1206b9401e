import torch

from npu_compat.device_mapping import DeviceMapper
from npu_compat.target import CAPABILITIES, Target


def accel_target():
    """An accelerator target whose device type torch knows without a plugin (xpu).

    The npu type only parses once torch_npu has registered it, which needs CANN."""
    return Target("xpu", None, CAPABILITIES["xpu"])


def test_cpu_target_maps_every_cuda_form():
    m = DeviceMapper(Target("cpu", None, CAPABILITIES["cpu"]))
    assert m.map("cuda") == "cpu" and m.map("cuda:3") == "cpu"
    assert m.map(torch.device("cuda", 1)) == torch.device("cpu")
    assert m.map(0, ints=True) == torch.device("cpu")
    assert m.map({"cuda:0": "cuda:1", "cpu": "cpu"}) == {"cuda:0": "cpu", "cpu": "cpu"}
    assert m.map_ids([0, 1]) is None and m.map_type("cuda") == "cpu"


def test_accelerator_target_keeps_indices():
    m = DeviceMapper(accel_target())
    assert m.map("cuda:1") == "xpu:1"
    assert m.map(torch.device("cuda", 2)) == torch.device("xpu", 2)
    assert m.map(3, ints=True) == torch.device("xpu", 3)
    assert m.map_ids([0, 1]) == [torch.device("xpu", 0), torch.device("xpu", 1)]


def test_non_cuda_values_come_back_as_the_same_object():
    m = DeviceMapper(accel_target())
    for value in ("cpu", torch.device("cpu"), None, 5, torch.float16, {"cpu": "cpu"}, "meta"):
        assert m.map(value) is value
    assert m.map(True, ints=True) is True  # a bool is not a device ordinal
