import warnings

import pytest
import torch

from tests.conftest import cpu_shim as shim

from npu_compat.errors import NpuCompatError
from npu_compat.rules.amp import POLICIES, policy_dtype
from npu_compat.target import cpu_native_dtypes

BF16, FP16 = torch.bfloat16, torch.float16


@pytest.fixture
def shim_keep():
    """The cpu target with the script's autocast dtype kept, whatever this host runs natively."""
    with shim(autocast="keep") as session:
        yield session


def test_policy_table():
    avx2_only = cpu_native_dtypes(avx512_bf16=False, amx_tile=False, amx_fp16=False)
    avx512_bf16 = cpu_native_dtypes(avx512_bf16=True, amx_tile=False, amx_fp16=False)
    amx = cpu_native_dtypes(avx512_bf16=False, amx_tile=True, amx_fp16=True)
    assert avx2_only == () and avx512_bf16 == (BF16,) and set(amx) == {BF16, FP16}
    # auto: the script's dtype where native, else fp32 (None: autocast off)
    assert policy_dtype("auto", BF16, avx2_only) is None
    assert policy_dtype("auto", BF16, avx512_bf16) is BF16
    assert policy_dtype("auto", None, avx512_bf16) is None, "no dtype means CUDA's fp16, not the cpu's bf16"
    assert policy_dtype("auto", None, amx) is FP16
    assert policy_dtype("keep", None, avx2_only) is FP16 and policy_dtype("keep", BF16, avx2_only) is BF16
    assert policy_dtype("fp32", BF16, amx) is None
    assert policy_dtype("bf16", FP16, avx2_only) is BF16 and policy_dtype("fp16", BF16, ()) is FP16
    assert set(POLICIES) == {"auto", "keep", "fp32", "bf16", "fp16"}


def test_auto_follows_this_hosts_native_dtypes():
    a = torch.randn(4, 4)
    with shim() as session:
        native = session.target.native_autocast_dtypes
        with torch.autocast("cuda", dtype=BF16):
            got = (a @ a).dtype
    assert got == (BF16 if BF16 in native else torch.float32)
    assert session.report.target["native_autocast_dtypes"] == [str(d)[6:] for d in native]


def test_fp32_policy_turns_cuda_autocast_off_and_leaves_cpu_autocast_alone():
    a = torch.randn(4, 4)
    with shim(autocast="fp32") as session:
        with torch.autocast("cuda", dtype=BF16):
            assert (a @ a).dtype == torch.float32
        with torch.autocast("cpu", dtype=BF16):  # the script named the cpu: its own choice
            assert (a @ a).dtype == BF16
    sites = [c for c in session.report.calls() if c["rule"] == "amp.autocast"]
    assert sites and sites[0]["old"] == "cuda/bfloat16" and sites[0]["new"] == "cpu/fp32 (autocast off)"


def test_cuda_autocast_without_dtype_means_fp16(shim_keep):
    a = torch.randn(4, 4)
    with torch.autocast("cuda"):
        assert (a @ a).dtype == FP16  # CUDA's default, not the cpu's bf16
    with torch.autocast(device_type="cuda"):
        assert (a @ a).dtype == FP16


def test_forced_policy_and_env_var(monkeypatch):
    a = torch.randn(4, 4)
    with shim(autocast="fp16"):
        with torch.autocast("cuda", dtype=BF16):
            assert (a @ a).dtype == FP16
    monkeypatch.setenv("NPU_COMPAT_AUTOCAST", "bf16")
    with shim():
        with torch.autocast("cuda", dtype=FP16):
            assert (a @ a).dtype == BF16


def test_unknown_policy_is_a_one_line_error():
    import npu_compat

    npu_compat.revert()
    with pytest.raises(NpuCompatError) as err:
        npu_compat.apply(device="cpu", autocast="tf32")
    assert "\n" not in str(err.value) and "keep" in str(err.value)
    assert npu_compat.current() is None


def test_autocast_cuda_runs_as_autocast_on_the_target(shim_keep):
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert torch.is_autocast_enabled("cuda") and torch.get_autocast_dtype("cuda") == torch.bfloat16
        assert (a @ b).dtype == torch.bfloat16  # really autocasting on the CPU
    with torch.amp.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=False):
        assert (a @ b).dtype == torch.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with torch.cuda.amp.autocast(dtype=torch.bfloat16):
            assert (a @ b).dtype == torch.bfloat16
    rules = {c["rule"] for c in shim_keep.report.calls() if c["file"] == __file__}
    assert {"amp.autocast", "amp.cuda.autocast"} <= rules


def test_autocast_decorator_form(shim_keep):
    @torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    def f(x):
        return x @ x

    assert f(torch.randn(3, 3)).dtype == torch.bfloat16


def test_grad_scaler_cuda_is_built_for_the_target(shim_cpu):
    scaler = torch.amp.GradScaler("cuda")
    assert scaler._device == "cpu"
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.1)
    scaler.scale((w * 2).sum()).backward()
    scaler.step(opt)
    scaler.update()
    assert torch.allclose(w.detach(), torch.full((2,), 0.8))


def test_torch_compile_inside_a_cuda_autocast_region(shim_keep):
    """nanoGPT's default: a compiled model called inside ``autocast("cuda", bf16)``. dynamo saves
    ``is_autocast_enabled("cuda")`` and restores it with the unpatched setter; it must see the truth."""
    model = torch.nn.Linear(4, 4).cuda()
    compiled = torch.compile(model, backend="eager")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = compiled(torch.randn(2, 4, device="cuda"))
        assert torch.is_autocast_enabled("cuda")  # the script's question: its region is on
    assert out.dtype == torch.bfloat16


def test_torch_itself_sees_the_autocast_state_as_it_is(shim_keep):
    from torch._functorch._aot_autograd.utils import _get_autocast_states

    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert torch.is_autocast_enabled("cuda") and torch.get_autocast_dtype("cuda") == torch.bfloat16
        cuda_enabled, cpu_enabled, _, cpu_dtype, _ = _get_autocast_states()  # asked from inside torch
    assert (cuda_enabled, cpu_enabled, cpu_dtype) == (False, True, torch.bfloat16)


def test_cuda_amp_autocast_is_reported_in_the_dtype_it_runs():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with shim(autocast="fp32") as session, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with torch.cuda.amp.autocast(dtype=torch.bfloat16):
            assert (a @ b).dtype == torch.float32
        site = [c for c in session.report.calls() if c["rule"] == "amp.cuda.autocast"]
    assert len(site) == 1 and site[0]["category"] == "modified", site
    assert (site[0]["old"], site[0]["new"]) == ("cuda/bfloat16", "cpu/fp32 (autocast off)"), site


def test_deprecation_warnings_point_at_the_callers_line(shim_cpu):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.amp.GradScaler()
    future = [w for w in caught if issubclass(w.category, FutureWarning) and "GradScaler" in str(w.message)]
    assert future and {w.filename for w in future} == {__file__}, [(w.filename, w.lineno) for w in caught]
