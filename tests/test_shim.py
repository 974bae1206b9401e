import pytest

import npu_compat
from npu_compat import shim
from npu_compat.errors import NpuCompatError
from npu_compat.patcher import MISSING, resolve_owner
from npu_compat.rules import core_rules
from npu_compat.sam3.rules import sam3_rules
from npu_compat.target import resolve_target


def _snapshot(rules):
    snap = {}
    for rule in rules:
        owner = resolve_owner(rule.owner) if rule.owner != "sys.modules" else __import__("sys").modules
        if owner is MISSING:
            snap[rule.key] = ("no-owner",)
            continue
        table = owner if isinstance(owner, dict) else vars(owner)
        snap[rule.key] = (rule.attr in table, table.get(rule.attr, MISSING))
    return snap


def test_revert_leaves_torch_exactly_as_found_over_every_rule():
    import sam3.model_builder  # noqa: F401  (so the lazy sam3 rules install too)
    import sam3.model.sam3_image_processor  # noqa: F401

    npu_compat.revert()
    target = resolve_target("cpu", environ={})
    rules = core_rules(target) + sam3_rules(target)
    before = _snapshot(rules)
    session = npu_compat.apply(device="cpu")
    installed = [r.key for r in session.report.rules if r.status == "installed"]
    assert len(installed) > 60  # the tables really did install
    changed = [k for k, v in _snapshot(rules).items() if v != before[k] or v[1] is not before[k][1]]
    assert len(changed) >= len(installed) - 1
    npu_compat.revert()
    after = _snapshot(rules)
    for key, (had, raw, *_) in ((k, v + (None,)) for k, v in before.items()):
        assert after[key][0] == had, key
        if had:
            assert after[key][1] is raw, f"{key} not restored by identity"


def test_apply_is_idempotent_and_refuses_a_second_device():
    npu_compat.revert()
    first = npu_compat.apply(device="cpu")
    try:
        assert npu_compat.apply(device="cpu") is first
        assert npu_compat.apply() is first
        assert npu_compat.current() is first
        with pytest.raises(NpuCompatError, match=r"already applied for cpu.*revert\(\)"):
            shim.apply(device="npu")
    finally:
        npu_compat.revert()
    assert npu_compat.current() is None


def test_apply_is_fast(shim_cpu):
    # The benchmark (tools/bench.py shim-overhead) measures this properly; here only a loose sanity bound.
    assert shim_cpu.apply_seconds < 1.0


def test_callable_module_keeps_npu_compat_apply_working_after_importing_the_cli():
    import npu_compat.apply  # rebinds the package attribute to the CLI module

    npu_compat.revert()
    session = npu_compat.apply(device="cpu")
    try:
        assert session.target.type == "cpu"
    finally:
        npu_compat.revert()


def test_the_python_api_refuses_an_unknown_fallback_off_name_before_installing_anything():
    import torch

    from npu_compat.fallbacks import known_ops

    zeros = torch.zeros
    with pytest.raises(NpuCompatError) as err:
        npu_compat.apply(device="cpu", fallback_off=("aten::no_such_op",))
    assert "aten::no_such_op" in str(err.value) and "\n" not in str(err.value)
    assert npu_compat.current() is None and torch.zeros is zeros
    some = sorted(known_ops())[0]
    session = npu_compat.apply(device="cpu", fallback_off=(some,))
    try:
        assert session.options.fallback_off == (some,)
    finally:
        npu_compat.revert()
