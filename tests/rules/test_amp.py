import warnings

import torch


def test_autocast_cuda_runs_as_autocast_on_the_target(shim_cpu):
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
    rules = {c["rule"] for c in shim_cpu.report.calls() if c["file"] == __file__}
    assert {"amp.autocast", "amp.cuda.autocast"} <= rules


def test_autocast_decorator_form(shim_cpu):
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
