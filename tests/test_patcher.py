import functools
import inspect
import sys
import types

import pytest

from npu_compat.errors import RuleError
from npu_compat.patcher import MISSING, Category, Context, Patcher, Rule, signature_problem, takes_any_call
from npu_compat.report import MigrationReport
from npu_compat.device_mapping import DeviceMapper
from npu_compat.shim import ShimOptions
from npu_compat.target import resolve_target


def make_ctx() -> Context:
    target = resolve_target("cpu", environ={})
    return Context(target, MigrationReport(), ShimOptions(device="cpu"), DeviceMapper(target))


@pytest.fixture
def owner_module():
    mod = types.ModuleType("npu_compat_test_owner")

    def f(a, b=1, *, c=2):
        return a + b + c

    class K:
        def method(self, x):
            return x

        @staticmethod
        def smethod(x):
            return x

    mod.f, mod.K = f, K
    sys.modules[mod.__name__] = mod
    yield mod
    sys.modules.pop(mod.__name__, None)


def const(value):
    def make(ctx, rule, original):
        def replacement(*args, **kwargs):
            return value
        return replacement
    return make


def test_install_and_revert_restore_identity_including_new_and_static_attributes(owner_module):
    before_f = vars(owner_module)["f"]
    before_s = vars(owner_module.K)["smethod"]
    p = Patcher(make_ctx())
    p.install([
        Rule("t.f", owner_module.__name__, "f", const(41)),
        Rule("t.method", f"{owner_module.__name__}.K", "method", const(42)),
        Rule("t.smethod", f"{owner_module.__name__}.K", "smethod", const(43)),
        Rule("t.new", owner_module.__name__, "brand_new", const(44), install_missing=True, unchecked="a constant"),
    ])
    assert owner_module.f(1) == 41 and owner_module.K().method(1) == 42 and owner_module.K.smethod(1) == 43
    assert owner_module.brand_new() == 44
    p.revert()
    assert vars(owner_module)["f"] is before_f
    assert vars(owner_module.K)["smethod"] is before_s
    assert "method" in vars(owner_module.K) and owner_module.K().method(5) == 5
    assert not hasattr(owner_module, "brand_new")


def test_missing_original_is_skipped_and_reported(owner_module):
    ctx = make_ctx()
    Patcher(ctx).install([Rule("t.gone", owner_module.__name__, "does_not_exist", const(1))])
    status = {r.key: r for r in ctx.report.rules}["t.gone"]
    assert status.status == "skipped" and "does not exist" in status.reason
    assert not hasattr(owner_module, "does_not_exist")


def test_signature_guard_skips_an_incompatible_replacement_and_strict_raises(owner_module):
    def make(ctx, rule, original):
        def narrow(a):  # lacks b and c
            return a
        return narrow

    ctx = make_ctx()
    Patcher(ctx).install([Rule("t.narrow", owner_module.__name__, "f", make)])
    assert owner_module.f(1) == 4  # untouched
    assert "signature differs" in ctx.report.rules[0].reason
    with pytest.raises(RuleError):
        Patcher(make_ctx(), strict=True).install([Rule("t.narrow", owner_module.__name__, "f", make)])


def test_signature_problem_cases():
    def orig(a, b=1, *, c=2): ...
    def same(a, b=1, *, c=2): ...
    def star(*args, **kwargs): ...
    def extra_required(a, b=1, *, c=2, d): ...
    assert signature_problem(orig, same) is None
    assert signature_problem(orig, star) is None
    assert "requires 'd'" in signature_problem(orig, extra_required)
    assert signature_problem(len, star) is None


def test_signature_problem_finds_swapped_positions_and_optional_made_required():
    def orig(a, b=1): ...
    def swapped(b, a=1): ...
    def required(a, b): ...
    def fewer(a): ...
    assert "positional parameter 1 is 'a' in the original, 'b'" in signature_problem(orig, swapped)
    assert "'b' is optional in the original, required in the replacement" in signature_problem(orig, required)
    assert "positional parameter 2" in signature_problem(orig, fewer)


def test_a_c_builtin_original_needs_a_replacement_that_takes_any_call():
    import torch

    def narrow(size, device=None): ...
    def star(*args, **kwargs): ...
    assert "no readable signature" in signature_problem(torch.zeros, narrow)  # torch.zeros(2, 3, dtype=...) would break
    assert signature_problem(torch.zeros, star) is None


def test_a_rule_that_opts_out_of_the_signature_check_must_say_why():
    with pytest.raises(RuleError, match="says not why"):
        Rule("t.x", "torch", "zeros", const(0), check_signature=False)
    assert not Rule("t.x", "torch", "zeros", const(0), unchecked="a test row").check_signature


def test_every_installed_row_says_how_its_signature_was_checked(shim_cpu):
    installed = [r for r in shim_cpu.report.rules if r.status == "installed"]
    assert installed and all(r.signature for r in installed), [r.key for r in installed if not r.signature]
    assert {r.signature.partition(":")[0] for r in installed} <= {"checked", "any call", "not checked", "no original"}
    assert [r for r in installed if r.signature.startswith("not checked: ") and len(r.signature) > 20]


def test_takes_any_call_only_for_a_plain_star_args_star_kwargs_function():
    def star(*args, **kwargs): ...
    def named_first(device, *args, **kwargs): ...
    def no_kwargs(*args): ...
    def kw_only(*args, flag=False, **kwargs): ...
    def declared(*args, **kwargs): ...
    declared.__signature__ = inspect.signature(lambda a: None)

    assert takes_any_call(star) and takes_any_call(functools.wraps(len)(star))
    assert not any(takes_any_call(f) for f in (named_first, no_kwargs, kw_only, declared, functools.partial(star), len))
    # every one of them gets the full comparison, and the fast path agrees with it where it applies
    def orig(a, b=1, *, c=2): ...
    assert "'device' in the replacement" in signature_problem(orig, named_first)  # moved into a's place
    assert "takes **kw, replacement does not" in signature_problem(lambda **kw: None, no_kwargs)
    assert signature_problem(lambda a: None, declared) is None
    assert signature_problem(orig, star) is None


def test_lazy_rule_installs_when_the_owner_is_imported(tmp_path, monkeypatch):
    pkg = tmp_path / "lazy_owner_pkg.py"
    pkg.write_text("def hello():\n    return 'upstream'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx = make_ctx()
    p = Patcher(ctx)
    p.install([Rule("t.lazy", "lazy_owner_pkg", "hello", const("patched"), Category.MODIFIED, "test", lazy=True)])
    assert ctx.report.rules[0].status == "pending"
    import lazy_owner_pkg

    assert lazy_owner_pkg.hello() == "patched"
    assert ctx.report.rules[0].status == "installed"
    p.revert()
    assert lazy_owner_pkg.hello() == "upstream"
    sys.modules.pop("lazy_owner_pkg", None)


def test_a_before_exec_rule_is_seen_by_the_modules_own_top_level_code(tmp_path, monkeypatch):
    """``before_exec``: the module object is patched when created, so its code runs with the replacement;
    revert puts back what a plain import gives (here its ``__builtins__``, which the hook sets as exec would)."""
    import builtins

    (tmp_path / "before_exec_owner.py").write_text("SEEN = __builtins__['marker'] if isinstance(__builtins__, dict) else None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx = make_ctx()
    p = Patcher(ctx)

    def namespace(ctx, rule, original):
        assert original is builtins.__dict__  # what exec would have given the module
        return {**builtins.__dict__, "marker": "patched before exec"}

    p.install([Rule("t.before", "before_exec_owner", "__builtins__", namespace, Category.MODIFIED, "test",
                    before_exec=True, unchecked="a namespace, not a callable")])
    assert ctx.report.rules[0].status == "pending"
    import before_exec_owner

    try:
        assert before_exec_owner.SEEN == "patched before exec"
        assert ctx.report.rules[0].status == "installed"
        p.revert()
        assert before_exec_owner.__builtins__ is builtins.__dict__
    finally:
        sys.modules.pop("before_exec_owner", None)


def test_a_modified_rule_must_say_how():
    with pytest.raises(RuleError):
        Rule("t.x", "torch", "zeros", const(0), Category.MODIFIED)
    assert MISSING is not None


def test_a_wraps_replacement_over_a_drifted_original_is_skipped_and_strict_raises(owner_module):
    """The replacement was written for f(a, b=1, *, c=2); the original grew a keyword (drift)."""
    def drifted(a, b=1, *, c=2, d=3):
        return a + b + c + d

    owner_module.f = drifted

    def make(ctx, rule, original):
        @functools.wraps(original)  # sets __wrapped__: inspect.signature would read the original itself
        def replacement(a, b=1, *, c=2):
            return original(a, b, c=c)
        return replacement

    assert inspect.signature(make(None, None, drifted)) == inspect.signature(drifted)  # what fooled the old guard
    ctx = make_ctx()
    Patcher(ctx).install([Rule("t.wrapped", owner_module.__name__, "f", make)])
    assert owner_module.f is drifted
    status = ctx.report.rules[0]
    assert status.status == "skipped" and "lacks parameter 'd'" in status.reason
    with pytest.raises(RuleError, match="lacks parameter 'd'"):
        Patcher(make_ctx(), strict=True).install([Rule("t.wrapped", owner_module.__name__, "f", make)])
    owner_module.f = lambda a, b=1, *, c=2: a  # the signature the rule was written for installs
    p = Patcher(make_ctx(), strict=True)
    p.install([Rule("t.wrapped", owner_module.__name__, "f", make)])
    assert owner_module.f is not drifted and owner_module.f.__wrapped__ is not None
    p.revert()
