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
