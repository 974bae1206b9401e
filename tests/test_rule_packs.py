"""Rule packs: the core imports no client; packs from a folder, an entry point or register() install."""
import json
import sys
import types

import pytest

import npu_compat
from npu_compat import rule_packs
from npu_compat.errors import NpuCompatError
from npu_compat.patcher import Category, Rule
from npu_compat.rule_packs import RulePack
from tests.conftest import ROOT, run_python

CORE = sorted(
    f"npu_compat.{p.stem}" for p in (ROOT / "npu_compat").glob("*.py") if p.stem not in ("__init__", "__main__")
) + [f"npu_compat.rules.{p.stem}" for p in (ROOT / "npu_compat" / "rules").glob("*.py")] + [
    f"npu_compat.fallbacks.{p.stem}" for p in (ROOT / "npu_compat" / "fallbacks").glob("*.py")]


def test_core_modules_and_an_apply_without_packs_import_no_client():
    code = (
        "import importlib, sys, json\n"
        f"for m in {CORE!r}:\n    importlib.import_module(m)\n"
        "before = sorted(m for m in sys.modules if m.startswith('npu_compat.sam3') or m == 'sam3')\n"
        "import npu_compat\n"
        "s = npu_compat.apply(device='cpu', packs_off=('sam3', 'hf_trainer'), log_level='quiet')\n"
        "after = sorted(m for m in sys.modules if m.startswith('npu_compat.sam3') or m == 'sam3')\n"
        "npu_compat.revert()\n"
        "from npu_compat import rule_packs\n"
        "print(json.dumps([before, after, s.report.packs, rule_packs.available()]))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after, packs, available = json.loads(proc.stdout.splitlines()[-1])
    assert len(CORE) > 15
    assert before == [] and after == [] and packs == []
    assert "sam3" in available  # found from its folder, not named by the core


def test_the_sam3_pack_installs_by_default_and_no_sam3_is_an_alias(shim_cpu):
    assert "sam3" in shim_cpu.report.packs
    assert any(r.key.startswith("sam3.") for r in shim_cpu.report.rules)
    from npu_compat.apply import build_parser
    from npu_compat.cli_options import shim_options

    opts = shim_options(build_parser().parse_args(["--no-sam3", "--no-pack", "sam3"]))
    assert opts.packs_off == ("sam3",)


def test_an_unknown_pack_name_is_an_error():
    npu_compat.revert()
    with pytest.raises(NpuCompatError, match=r"no rule pack named 'sma3'.*known packs: .*sam3"):
        npu_compat.apply(device="cpu", packs_off=("sma3",))
    assert npu_compat.current() is None


def test_a_registered_pack_installs_and_reverts():
    client = types.ModuleType("npu_compat_test_client")  # stands in for someone else's library
    client.device_name = lambda: "cuda"
    original = client.device_name
    sys.modules[client.__name__] = client

    def rules(target):
        def make(ctx, rule, orig):
            return lambda: ctx.target.type

        return [Rule("testpack.device_name", client.__name__, "device_name", make, Category.MODIFIED, "answers the target")]

    rule_packs.register(RulePack("testpack", rules))
    npu_compat.revert()
    try:
        session = npu_compat.apply(device="cpu", log_level="quiet")
        assert "testpack" in session.report.packs
        assert client.device_name() == "cpu"
        npu_compat.revert()
        assert client.device_name is original and client.device_name() == "cuda"
        session = npu_compat.apply(device="cpu", packs_off=("testpack",), log_level="quiet")
        assert client.device_name is original and "testpack" not in session.report.packs
    finally:
        npu_compat.revert()
        rule_packs.unregister("testpack")
        del sys.modules[client.__name__]


def test_a_pack_from_another_distribution_is_found_by_its_entry_point(tmp_path):
    """A real installed-distribution layout (dist-info with entry_points.txt) on sys.path."""
    dist = tmp_path / "otherpack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: otherpack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[npu_compat.rule_packs]\nother = otherpack_rules:PACK\n")
    (tmp_path / "otherclient.py").write_text("def where():\n    return 'cuda'\n")
    (tmp_path / "otherpack_rules.py").write_text(
        "from npu_compat.patcher import Category, Rule\nfrom npu_compat.rule_packs import RulePack\n"
        "def make(ctx, rule, orig):\n"
        "    def where():\n        ctx.report.hit(rule.key, rule.category.value, 'cuda', ctx.target.type)\n"
        "        return ctx.target.type\n    return where\n"
        "PACK = RulePack('other', lambda t: [Rule('other.where', 'otherclient', 'where', make, Category.MODIFIED, 'target')],"
        " 'a pack outside the kit')\n")
    (tmp_path / "user.py").write_text("import otherclient\nprint('WHERE', otherclient.where())\n")
    env = {"PYTHONPATH": f"{ROOT}:{tmp_path}"}
    report = tmp_path / "r.json"
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(report), "--", str(tmp_path / "user.py"), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WHERE cpu" in proc.stdout
    data = json.loads(report.read_text())
    assert "other" in data["packs"] and any(c["rule"] == "other.where" for c in data["calls"])
    off = run_python("-m", "npu_compat.apply", "--device", "cpu", "--no-pack", "other", "--", str(tmp_path / "user.py"), env=env)
    assert off.returncode == 0 and "WHERE cuda" in off.stdout  # without the pack the client's own answer stands
