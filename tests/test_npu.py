"""npu.py against a TEST DOUBLE of torch_npu: there is no CANN or Ascend hardware here.

Nothing in this file is verified on an NPU; it checks our logic around torch_npu's API.
"""
from types import SimpleNamespace

import pytest

from npu_compat import npu
from npu_compat.errors import TargetError


class TorchNpuDouble:
    """Test double of the torch_npu calls the runtime profile makes (not the real package)."""

    def __init__(self) -> None:
        self.jit = True
        self.calls: list[tuple[str, object]] = []
        outer = self

        def set_compile_mode(jit_compile: bool) -> None:
            outer.calls.append(("set_compile_mode", jit_compile))
            outer.jit = jit_compile

        self.npu = SimpleNamespace(
            set_compile_mode=set_compile_mode,
            is_jit_compile_false=lambda: not outer.jit,
            config=SimpleNamespace(allow_internal_format=True),
            conv=SimpleNamespace(allow_hf32=True),
            matmul=SimpleNamespace(allow_hf32=False),
        )


def test_npu_double_profile_applies_defaults_and_records_each_setting():
    double = TorchNpuDouble()
    changes = npu.apply_runtime_profile(npu.RuntimeProfile(), torch_npu=double)
    assert double.calls == [("set_compile_mode", False)]
    assert double.npu.config.allow_internal_format is False
    assert double.npu.conv.allow_hf32 is True and double.npu.matmul.allow_hf32 is False  # HF32 knobs left alone
    keys = {c.key: (c.old, c.new) for c in changes}
    assert keys == {"npu.jit_compile": (True, False), "npu.allow_internal_format": (True, False)}


def test_npu_double_hf32_options_and_exact_revert():
    double = TorchNpuDouble()
    profile = npu.RuntimeProfile(conv_hf32=False, matmul_hf32=True)
    changes = npu.apply_runtime_profile(profile, torch_npu=double)
    assert double.npu.conv.allow_hf32 is False and double.npu.matmul.allow_hf32 is True
    npu.revert_runtime_profile(changes, torch_npu=double)
    assert double.jit is True
    assert double.npu.config.allow_internal_format is True
    assert double.npu.conv.allow_hf32 is True and double.npu.matmul.allow_hf32 is False


@pytest.mark.parametrize(
    "torch_version, torch_npu_version, ok",
    [
        ("2.7.1+cpu", "2.7.1.post2", True),
        ("2.7.1", "2.7.1", True),
        ("2.14.1+cu130", "2.7.1.post2", False),
        ("2.7.1+cu126", "2.7.1.post2", False),  # a CUDA build: torch_npu refuses to load beside it
        ("2.6.0", "2.7.1", False),
    ],
)
def test_version_pair_check(torch_version, torch_npu_version, ok):
    if ok:
        npu.check_version_pair(torch_version, torch_npu_version)
    else:
        with pytest.raises(TargetError) as err:
            npu.check_version_pair(torch_version, torch_npu_version)
        assert "\n" not in str(err.value) and "torch" in str(err.value)


def test_mismatch_message_names_the_needed_torch():
    with pytest.raises(TargetError, match=r"torch_npu 2\.7\.1\.post2 needs torch 2\.7\.1, found 2\.14\.1"):
        npu.check_version_pair("2.14.1", "2.7.1.post2")


def test_no_torch_npu_here_means_unavailable_not_a_crash():
    assert npu.installed_torch_npu_version() is None
    assert npu.npu_available() is False


def test_torch_npu_is_imported_in_exactly_one_module():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    importers = set()
    for path in list((root / "npu_compat").rglob("*.py")) + list((root / "tools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "torch_npu" or n.startswith("torch_npu.") for n in names):
                importers.add(path.relative_to(root).as_posix())
    assert importers == {"npu_compat/npu.py"}
