"""Dispatcher-level fallbacks: a ``torch.library`` kernel on the target's dispatch key.

On the cpu target a test-declared op (namespace ``npu_compat_test``) is defined with no CPU
kernel; the fallback row registers an alternative implementation on the CPU key. The same code
registers on PrivateUse1 for npu (not run here: no NPU)."""
from __future__ import annotations

import logging

import pytest
import torch

import npu_compat
from npu_compat.errors import FallbackError
from npu_compat.fallbacks import install_fallbacks
from npu_compat.fallbacks.dispatcher_level import listed_ops
from npu_compat.fallbacks.registry import Action, FallbackRule

_DEF = torch.library.Library("npu_compat_test", "DEF")
_DEF.define("scaled_add(Tensor a, Tensor b, float alpha) -> Tensor")


def _reference(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    return a + alpha * b


ROW = FallbackRule(op="test.scaled_add", targets=("cpu",), action=Action.ALTERNATIVE,
                   aten="npu_compat_test::scaled_add", alternative=_reference,
                   why="test-declared: the op has no CPU kernel", cost="test only")


def _call():
    a, b = torch.arange(4.0), torch.ones(4)
    return torch.ops.npu_compat_test.scaled_add(a, b, 0.5), _reference(a, b, 0.5)


@pytest.fixture
def session():
    npu_compat.revert()
    s = npu_compat.apply(device="cpu")
    yield s
    npu_compat.revert()


def test_no_kernel_without_the_fallback():
    npu_compat.revert()
    with pytest.raises(NotImplementedError):
        _call()


def test_kernel_fires_is_counted_and_reverted(session):
    install_fallbacks(session.patcher.ctx, session.patcher, [ROW])
    got, want = _call()
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    counter = session.report.fallbacks.counters["test.scaled_add"]
    assert counter.count == 1 and counter.level == "dispatcher"
    assert counter.first_site["file"] == __file__ and counter.first_site["function"] == "_call"
    npu_compat.revert()
    with pytest.raises(NotImplementedError):
        _call()


def test_strict_raises_naming_the_op():
    npu_compat.revert()
    s = npu_compat.apply(device="cpu", strict=True)
    try:
        install_fallbacks(s.patcher.ctx, s.patcher, [ROW])
        with pytest.raises(FallbackError, match="test.scaled_add"):
            _call()
    finally:
        npu_compat.revert()


def test_cpu_and_back_on_the_cpu_key_is_refused(session):
    row = FallbackRule(op="test.bad", targets=("cpu",), action=Action.CPU, aten="npu_compat_test::scaled_add",
                       why="w", cost="c")
    with pytest.raises(ValueError, match="call itself"):
        install_fallbacks(session.patcher.ctx, session.patcher, [row])


def test_listed_ops_from_the_option():
    env = {"NPU_COMPAT_CPU_FALLBACK_OPS": "aten::scatter_reduce.two, linalg_eigh"}
    rows = listed_ops("npu", env)
    assert [r.aten for r in rows] == ["aten::scatter_reduce.two", "aten::linalg_eigh"]
    assert all(r.action is Action.CPU and r.level == "dispatcher" for r in rows)
    assert listed_ops("cpu", env) == [] and listed_ops("npu", {}) == []


def test_listed_ops_skip_ops_with_an_npu_kernel_in_any_spelling(monkeypatch):
    """``aten::relu.default`` (how torch names the op) is ``relu`` in torch_npu's kernel list."""
    monkeypatch.setenv("NPU_COMPAT_SIMULATE", "torch_npu==2.7.1.post2")  # the version only; nothing is imported
    env = {"NPU_COMPAT_CPU_FALLBACK_OPS": "aten::relu.default,aten::add.Tensor,aten::_linalg_eigh.default"}
    assert [r.aten for r in listed_ops("npu", env)] == ["aten::_linalg_eigh"]


def test_a_default_overload_row_installs(session):
    row = FallbackRule(op="test.scaled_add.default", targets=("cpu",), action=Action.ALTERNATIVE,
                       aten="npu_compat_test::scaled_add.default", alternative=_reference, why="w", cost="c")
    install_fallbacks(session.patcher.ctx, session.patcher, [row])
    got, want = _call()
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_the_report_call_site_is_the_user_line_not_torch_ops(session):
    install_fallbacks(session.patcher.ctx, session.patcher, [ROW])
    _call()
    sites = [c for c in session.report.calls() if c["rule"] == "fallback.test.scaled_add"]
    assert [(s["file"], s["function"]) for s in sites] == [(__file__, "_call")]


def test_listed_ops_without_a_kernel_list_trust_the_option_and_say_so(monkeypatch, caplog):
    monkeypatch.setenv("NPU_COMPAT_SIMULATE", "torch_npu==0.0.1")  # a release with no kernel list here
    env = {"NPU_COMPAT_CPU_FALLBACK_OPS": "aten::relu.default"}
    with caplog.at_level("WARNING", logger="npu_compat"):
        logger = logging.getLogger("npu_compat")
        logger.addHandler(caplog.handler)
        try:
            assert [r.aten for r in listed_ops("npu", env)] == ["aten::relu"]
        finally:
            logger.removeHandler(caplog.handler)
    assert "no kernel list for torch_npu '0.0.1'" in caplog.text and "NPU_COMPAT_CPU_FALLBACK_OPS" in caplog.text


def test_listed_ops_let_other_errors_through(monkeypatch):
    import npu_compat.fallbacks.dispatcher_level as dispatcher_level

    class Broken:
        def has_overload(self, name):
            raise KeyError(name)  # a bug in the coverage data, not "no data"

    monkeypatch.setenv("NPU_COMPAT_SIMULATE", "torch_npu==2.7.1.post2")
    monkeypatch.setattr(dispatcher_level, "load_kernel_list", lambda version: Broken())
    with pytest.raises(KeyError):
        listed_ops("npu", {"NPU_COMPAT_CPU_FALLBACK_OPS": "aten::relu.default"})
