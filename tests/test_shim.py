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
    keys = {r.key for r in rules}  # the session installs more (other packs, os.exec*): compared below are these
    installed = [r.key for r in session.report.rules if r.status == "installed" and r.key in keys]
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


def test_a_second_apply_with_other_options_is_an_error_that_names_them():
    npu_compat.revert()
    first = npu_compat.apply(device="cpu")
    try:
        assert npu_compat.apply(device="cpu") is first and npu_compat.apply() is first
        with pytest.raises(NpuCompatError, match=r"other options \(strict differ\).*revert\(\) first"):
            npu_compat.apply(strict=True)
        assert npu_compat.current() is first and not first.options.strict
    finally:
        npu_compat.revert()


def test_a_second_apply_that_differs_only_in_reporting_returns_the_active_session():
    """``python -m npu_compat.apply --log-level calls -m <kit tool>``: the tool's own apply(device=...) is fine."""
    npu_compat.revert()
    first = npu_compat.apply(device="cpu", log_level="calls")
    try:
        assert npu_compat.apply(device="cpu") is first
        assert npu_compat.apply(device="cpu", log_level="quiet") is first and first.options.log_level == "calls"
        with pytest.raises(NpuCompatError, match=r"other options \(strict differ\)"):  # behaviour still refused
            npu_compat.apply(device="cpu", log_level="quiet", strict=True)
    finally:
        npu_compat.revert()


def test_a_second_apply_that_leaves_an_option_unset_takes_the_active_sessions():
    """``NPU_COMPAT_AUTOCAST=fp32 python -m npu_compat.apply -m <kit tool>``: the command line's session has
    ``autocast="fp32"``; the tool's own ``apply(device="cpu")`` leaves autocast unset (None) and is the same."""
    npu_compat.revert()
    first = npu_compat.apply(device="cpu", autocast="fp32")
    try:
        assert npu_compat.apply(device="cpu") is first and first.options.autocast == "fp32"
        with pytest.raises(NpuCompatError, match=r"other options \(autocast differ\)"):  # set, and other: refused
            npu_compat.apply(device="cpu", autocast="keep")
    finally:
        npu_compat.revert()


def test_a_kit_tool_that_applies_the_shim_itself_runs_under_the_shim_with_a_log_level(tmp_path):
    """The command line's session (log level ``calls``) and the tool's own ``apply(device="cpu")`` are one."""
    import os
    import subprocess
    import sys

    tool = tmp_path / "kit_tool.py"  # what npu_compat.parity's capture does: apply(device=...) then run
    tool.write_text("import npu_compat, torch\nnpu_compat.apply(device='cpu')\nprint(torch.zeros(1, device='cuda').device)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = subprocess.run([sys.executable, "-m", "npu_compat.apply", "--device", "cpu", "--log-level", "calls",
                           "--", str(tool)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "cpu"
    assert "already applied" not in proc.stderr


def test_the_hooks_session_gives_way_to_the_scripts_own_options():
    import torch

    npu_compat.revert()
    hook = npu_compat.apply(device="cpu")
    hook.implicit = True  # as npu_compat.autoapply marks the session it applies
    try:
        torch.zeros(1, device="cuda")
        mine = npu_compat.apply(device="cpu", strict=True)
        assert mine is not hook and mine.options.strict and npu_compat.current() is mine
        assert [c for c in mine.report.calls() if c["rule"] == "device.torch.zeros"]  # earlier calls kept
    finally:
        npu_compat.revert()
    assert npu_compat.current() is None


def test_apply_from_four_threads_gives_one_session_and_one_revert_undoes_it():
    import threading

    import torch

    npu_compat.revert()
    original, sessions, barrier = torch.zeros, [], threading.Barrier(4)

    def worker():
        barrier.wait()
        sessions.append(npu_compat.apply(device="cpu"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in sessions}) == 1
    npu_compat.revert()
    assert torch.zeros is original and npu_compat.current() is None


def test_revert_is_exact_in_modules_loaded_before_apply_main_included():
    import __main__

    import torch

    npu_compat.revert()
    original = torch.zeros
    npu_compat.apply(device="cpu")
    try:
        exec("from torch import zeros as _npu_compat_test_zeros", vars(__main__))  # as a script or REPL would
        assert __main__._npu_compat_test_zeros is not original
    finally:
        npu_compat.revert()
    try:
        assert __main__._npu_compat_test_zeros is original
    finally:
        del __main__._npu_compat_test_zeros


def test_revert_keeps_a_pythonpath_the_program_changed():
    import os

    from npu_compat.child_processes import BOOT_DIR

    npu_compat.revert()
    before = os.environ.get("PYTHONPATH")
    npu_compat.apply(device="cpu")
    try:
        os.environ["PYTHONPATH"] = os.environ["PYTHONPATH"] + os.pathsep + "/the/programs/own"
    finally:
        npu_compat.revert()
    try:
        now = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        assert now[-1] == "/the/programs/own" and BOOT_DIR not in now
        assert now[:-1] == ([p for p in before.split(os.pathsep) if p] if before else [])
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


# On the simulated npu (a TEST DOUBLE of torch_npu + CANN, in a subprocess: it registers 'npu' for good).
FAILING_AFTER_PROFILE = """
import json, torch
import npu_compat
from npu_compat import child_processes, npu
npu.load_torch_npu()
def knobs():
    return [torch.npu.is_jit_compile_false(), torch.npu.config.allow_internal_format]
before = knobs()
def broken(session):
    raise RuntimeError("planted failure after the runtime profile")
child_processes.propagate = broken
try:
    npu_compat.apply(device="npu")
except RuntimeError as err:
    print(json.dumps({"before": before, "after": knobs(), "error": str(err), "session": npu_compat.current() is not None}))
"""


def test_a_failure_after_the_runtime_profile_puts_the_simulated_npu_settings_back():
    import json

    from tests.conftest import run_python

    proc = run_python("-c", FAILING_AFTER_PROFILE, env={"NPU_COMPAT_SIMULATE": "torch_npu==2.7.1.post2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["error"] == "planted failure after the runtime profile" and not out["session"]
    assert out["after"] == out["before"] == [False, True]
