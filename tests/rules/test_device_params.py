import json

import torch

from npu_compat.rules import device_params
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


def test_schema_answers_are_kept_per_torch_build_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv(device_params.CACHE_ENV, str(tmp_path))
    scan = find_device_params.__wrapped__  # the scan itself, without the per-process cache
    fresh = scan()
    path = device_params.schema_cache_path()
    assert path is not None and path.parent == tmp_path
    data = json.loads(path.read_text())
    assert data["schemas"]["zeros"] is True and data["schemas"]["add"] is False
    assert scan() == fresh  # read back: the same answer

    # the file is what the scan reads: a planted wrong answer shows through...
    data["schemas"]["scalar_tensor"] = False
    path.write_text(json.dumps(data))
    assert "torch.scalar_tensor" not in {p.path for p in scan()}
    # ...but not one written for another torch build, and not a torn file
    data["build"] = "another torch"
    path.write_text(json.dumps(data))
    assert scan() == fresh
    path.write_text('{"build": ')
    assert scan() == fresh
    assert json.loads(path.read_text())["schemas"]["scalar_tensor"] is True  # rewritten whole


def test_schema_cache_off_and_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv(device_params.CACHE_ENV, "off")
    assert device_params.schema_cache_path() is None
    fresh = find_device_params.__wrapped__()
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(device_params.CACHE_ENV, str(blocker / "sub"))  # a folder that cannot be made
    assert find_device_params.__wrapped__() == fresh
