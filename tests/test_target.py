import pytest
import torch

from npu_compat.errors import TargetError
from npu_compat.target import CAPABILITIES, parse_device, resolve_target


def test_argument_beats_environment_and_environment_beats_auto():
    t = resolve_target("cpu", environ={"NPU_COMPAT_DEVICE": "npu"})
    assert (t.type, t.source) == ("cpu", "argument")
    t = resolve_target(None, environ={"NPU_COMPAT_DEVICE": "cpu"})
    assert (t.type, t.source) == ("cpu", "environment")


def test_auto_picks_the_best_available_device_here():
    t = resolve_target(None, environ={})
    assert t.source == "auto"
    # This machine has no NPU, GPU, XPU or MPS: auto must fall through to cpu.
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert t.type == expected


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "", "npu:-1"])
def test_unknown_device_is_a_one_line_error_naming_the_choices(spec):
    with pytest.raises(TargetError) as err:
        parse_device(spec)
    msg = str(err.value)
    assert "\n" not in msg and "npu, cuda, xpu, mps, cpu" in msg


def test_npu_without_torch_npu_names_the_fix():
    with pytest.raises(TargetError) as err:
        resolve_target("npu", environ={})
    assert "torch_npu" in str(err.value) and "env/" in str(err.value)


def test_capabilities_per_target():
    assert CAPABILITIES["npu"].dist_backend == "hccl"
    assert CAPABILITIES["cuda"].dist_backend == "nccl"
    assert CAPABILITIES["cpu"].dist_backend == "gloo"
    assert CAPABILITIES["cpu"].pin_memory is False and CAPABILITIES["npu"].pin_memory is True
    t = resolve_target("cpu", environ={})
    assert t.device() == torch.device("cpu") and t.module is None
    assert torch.bfloat16 in t.caps.autocast_dtypes
