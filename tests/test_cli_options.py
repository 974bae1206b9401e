import argparse

import pytest

from npu_compat.cli_options import add_shim_arguments, shim_options
from npu_compat.fallbacks import known_ops
from npu_compat.errors import NpuCompatError


def parse(*argv: str):
    parser = argparse.ArgumentParser()
    add_shim_arguments(parser)
    return parser.parse_args(list(argv))


def test_autocast_option_and_environment(monkeypatch):
    monkeypatch.delenv("NPU_COMPAT_AUTOCAST", raising=False)
    assert shim_options(parse()).autocast is None  # auto, decided per target
    assert shim_options(parse("--autocast", "fp32")).autocast == "fp32"
    monkeypatch.setenv("NPU_COMPAT_AUTOCAST", "bf16")
    assert shim_options(parse()).autocast == "bf16"
    assert shim_options(parse("--autocast", "keep")).autocast == "keep"  # the option wins
    with pytest.raises(SystemExit):
        parse("--autocast", "tf32")


def test_unknown_cuda_available_policy_is_refused():
    with pytest.raises(SystemExit):
        parse("--cuda-available", "maybe")
    import npu_compat

    npu_compat.revert()
    with pytest.raises(NpuCompatError) as err:
        npu_compat.apply(device="cpu", cuda_available="maybe")
    assert "\n" not in str(err.value) and "target, truth, false" in str(err.value)
    assert npu_compat.current() is None


def test_unknown_fallback_off_op_is_an_error_naming_the_known_ones():
    known = known_ops()
    assert known, "the fallback table declares ops"
    with pytest.raises(NpuCompatError) as err:
        shim_options(parse("--fallback-off", "aten::no_such_op"))
    assert "aten::no_such_op" in str(err.value) and "\n" not in str(err.value)
    some = sorted(known)[0]
    assert shim_options(parse("--fallback-off", some)).fallback_off == (some,)


def test_cli_exits_2_with_one_line(tmp_path):
    from tests.conftest import run_python

    script = tmp_path / "s.py"
    script.write_text("print('ran')\n")
    for args in (["--device", "cpu:5"], ["--fallback-off", "nope"], ["--autocast", "tf32"]):
        proc = run_python("-m", "npu_compat.apply", *args, "--", str(script))
        assert proc.returncode == 2, (args, proc.stderr)
        assert "ran" not in proc.stdout and "Traceback" not in proc.stderr


def test_the_command_line_offers_the_options_each_pack_declares_and_names_no_pack():
    """A pack's own options (``RulePack.options``, ``off_flag``) reach the parser and ``pack_options``;
    cli_options.py's source names no pack, its flags come from the packs found."""
    from pathlib import Path

    from npu_compat import cli_options, rule_packs
    from npu_compat.rule_packs import PackOption, RulePack

    source = Path(cli_options.__file__).read_text()
    assert "sam3" not in source and "--bpe" not in source and "hf_trainer" not in source
    rule_packs.register(RulePack("testpack", lambda target: [], "a test pack",
                                 options=(PackOption("--test-level", "level", "a level", type=int),),
                                 off_flag="--no-testpack"))
    try:
        opts = shim_options(parse("--test-level", "3", "--no-testpack"))
        assert opts.pack_options == {"testpack": {"level": 3}} and opts.packs_off == ("testpack",)
        assert shim_options(parse()).pack_options == {}
        with pytest.raises(SystemExit):
            parse("--test-level", "three")  # the pack's type checks its value
        rule_packs.register(RulePack("testpack", lambda target: [], options=(PackOption("--strict", "s", "clash"),)))
        with pytest.raises(NpuCompatError, match=r"rule pack 'testpack' declares an option that is already taken"):
            parse()
    finally:
        rule_packs.unregister("testpack")
    opts = shim_options(parse("--bpe", __file__, "--no-sam3"))  # the sam3 pack's, declared in npu_compat/sam3/rule_pack.py
    assert opts.pack_options == {"sam3": {"bpe_path": __file__}} and opts.packs_off == ("sam3",)
    with pytest.raises(SystemExit):
        parse("--bpe", "/nonexistent/bpe.txt.gz")
