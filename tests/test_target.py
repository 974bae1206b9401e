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


@pytest.mark.parametrize("spec", ["cpu:5", "cpu:1"])
def test_cpu_with_an_index_other_than_0_is_an_error(spec):
    with pytest.raises(TargetError) as err:
        parse_device(spec)
    assert "\n" not in str(err.value) and "one device" in str(err.value)
    assert parse_device("cpu:0") == ("cpu", 0)


def test_auto_selection_says_why_it_skipped_a_broken_torch_npu(monkeypatch, capsys):
    """A test double for an installed torch_npu that cannot load (this host has no CANN)."""
    from npu_compat import npu

    def load_fails():
        raise TargetError("torch_npu 2.7.1 needs torch 2.7.1, found 2.14.1", "install the CPU build of torch==2.7.1")

    monkeypatch.setattr(npu, "installed_torch_npu_version", lambda: "2.7.1")
    monkeypatch.setattr(npu, "load_torch_npu", load_fails)
    t = resolve_target(None, environ={})
    assert t.type != "npu" and t.source == "auto"
    err = capsys.readouterr().err
    assert err.count("skipped npu") == 1 and "needs torch 2.7.1" in err
    assert "needs torch 2.7.1" in t.describe()["auto_skipped"]["npu"]


def test_auto_selection_is_quiet_when_torch_npu_is_not_installed(capsys):
    t = resolve_target(None, environ={})
    assert capsys.readouterr().err == "" and "auto_skipped" not in t.describe()


def test_cpu_target_knows_which_autocast_dtypes_it_runs_natively():
    t = resolve_target("cpu", environ={})
    native_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert (torch.bfloat16 in t.native_autocast_dtypes) == native_bf16
    assert resolve_target(None, environ={"NPU_COMPAT_DEVICE": "cpu"}).native_autocast_dtypes == t.native_autocast_dtypes


def test_a_onednn_isa_cap_below_bf16_means_no_native_bf16():
    """ONEDNN_MAX_CPU_ISA=AVX2 makes oneDNN emulate bf16 on any CPU (as on an AVX2-only EPYC)."""
    from npu_compat.target import probe_cpu_native_dtypes

    assert probe_cpu_native_dtypes({"ONEDNN_MAX_CPU_ISA": "AVX2"}) == ()
    assert probe_cpu_native_dtypes({"DNNL_MAX_CPU_ISA": "avx512_core"}) == ()
    uncapped = probe_cpu_native_dtypes({})
    assert (torch.bfloat16 in uncapped) == bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
