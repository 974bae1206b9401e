import torch

from npu_compat.rules.device_params import NAMESPACES, OWN_ROWS, find_device_params


def test_found_from_signatures_with_the_device_position():
    params = {p.path: p for p in find_device_params()}
    assert params["torch.zeros"].position is None  # a builtin: device is keyword-only
    assert "torch.asarray" in params, "docstring signature"
    assert "torch.scalar_tensor" in params and "torch.normal" in params, "aten schema"
    assert "torch.fft.fftfreq" in params and "torch.nested.nested_tensor" in params
    nested = params.get("torch.nested.as_nested_tensor")
    if nested is not None:  # a Python function: device may come positionally
        code = torch.nested.as_nested_tensor.__code__
        assert nested.position == code.co_varnames.index("device")
    assert not OWN_ROWS & set(params)
    assert all(not p.name.startswith("_") for p in params.values())
    assert {owner for owner, _ in NAMESPACES} >= {p.owner for p in params.values()} - {"torch.Tensor"}


def test_nothing_without_a_device_argument():
    params = {p.path for p in find_device_params()}
    for name in ("torch.add", "torch.matmul", "torch.fft.fft", "torch.linalg.norm", "torch.Tensor.add"):
        assert name not in params


def test_cached_and_fast():
    import time

    find_device_params.cache_clear()
    start = time.perf_counter()
    first = find_device_params()
    elapsed = time.perf_counter() - start
    assert find_device_params() is first
    assert elapsed < 0.5, elapsed  # a few ms on an idle machine; generous for a loaded CI host
