"""Tests for npu_compat.bench.environment."""
from __future__ import annotations

import torch

from npu_compat.bench.environment import describe


def test_describe_names_machine_device_versions_and_command():
    env = describe(torch.device("cpu"), ["tools/bench.py", "--quick", "a b"])
    assert env["command"] == "python tools/bench.py --quick 'a b'"
    assert env["device"] == "cpu" and env["torch"] == torch.__version__
    assert env["cores"] and env["date"].endswith("UTC")
    assert isinstance(env["cpu_flags"], list) and isinstance(env["native_bf16"], bool)


def test_describe_names_the_upstream_revision_that_runs_not_the_installed_wheel(monkeypatch):
    """With a sam3@96914d2 tree first on the path, the wheel's metadata still says 0.1.4: the rows must not."""
    from npu_compat.bench import environment

    monkeypatch.setattr(environment, "detect_revision", lambda: "sam3@96914d2")
    assert environment.describe(device="cpu", argv=[])["sam3"] == "sam3@96914d2"
    monkeypatch.setattr(environment, "detect_revision", lambda: "sam3==0.1.4")
    assert environment.describe(device="cpu", argv=[])["sam3"] == environment._version("sam3")
