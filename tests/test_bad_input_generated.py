"""Generated bad input for every option of every command line (hypothesis).

Each command's parser is read (``build_parser()``: option strings, ``type=``, ``choices``, ``nargs``), every
option is classified by what it takes, and hypothesis draws bad values for it, one option at a time, into an
otherwise good command line. The contract: exit status 2, one line on stderr that says "error", no traceback,
and no file in the test folder written, removed or changed.

"Before any model is built": the functions that start the real work (the model builders, the shim's
``apply``, the benchmark and parity runs) are replaced by one that raises :class:`Accepted`. A bad value
that gets that far was accepted, and the test fails. The commands run in this process, so the whole file
takes seconds per option.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npu_compat.cli_options import device_spec, existing_file
from npu_compat.workloads import inputs
from tests.conftest import ROOT


class Accepted(Exception):
    """Raised where the real work would start: the input under test got past every check."""


def _accept(*args: Any, **kwargs: Any) -> Any:
    raise Accepted()


WORK = [  # (module, attribute): where each command's real work starts
    ("npu_compat.workloads.model_loading", "build_model"),
    ("npu_compat.workloads.video_run", "build_predictor"),
    ("npu_compat.shim", "apply"),
    ("npu_compat.bench.report", "run_from_cli"),
    ("npu_compat.parity.__main__", "_capture"),
    ("npu_compat.parity.__main__", "_replay"),
    ("npu_compat.parity.__main__", "_e2e"),
    ("npu_compat.parity.__main__", "_coverage"),
    ("npu_compat.env.host", "gather"),
    ("npu_compat.patchset.verify", "cmd_check"),
    ("npu_compat.patchset.verify", "cmd_apply"),
    ("npu_compat.patchset.verify", "cmd_matrix"),
    ("npu_compat.patchset.verify", "cmd_refresh"),
    ("npu_compat.patchset.verify", "cmd_scan"),
    ("npu_compat.commands.train_sample_set", "write_sample_set"),
    ("npu_compat.training.compare", "compare_runs"),
]

# Each command (or subcommand): its module, the argv before the option under test (good inputs only; {name}
# is a file of the fixture), and its parser.
COMMANDS: dict[str, tuple[str, list[str]]] = {
    "sam3_demo": ("npu_compat.commands.sam3_demo", ["--model", "tiny", "--out", "{out}"]),
    "sam3_infer": ("npu_compat.commands.sam3_infer", ["{good.png}", "--prompt", "x", "--model", "tiny", "--out", "{out}"]),
    "sam3_video": ("npu_compat.commands.sam3_video", ["{clip.mp4}", "--text", "x", "--model", "tiny", "--out", "{out}"]),
    "coco_eval": ("npu_compat.commands.coco_eval", ["--coco-ann", "{ann.json}", "--coco-img", "{images}",
                                                    "--output-json", "{out}/p.json", "--model", "tiny"]),
    "compare_runs": ("npu_compat.commands.compare_runs", ["{a.json}", "{b.json}"]),
    "bench": ("npu_compat.commands.bench", ["--quick", "--json", "{out}/b.json"]),
    "extract_npu_kernels": ("npu_compat.commands.extract_npu_kernels", ["{torch_npu-3.0.0-py3-none-any.whl}",
                                                                        "--out-dir", "{out}"]),
    "train_sample_set": ("npu_compat.commands.train_sample_set", ["--out", "{out}"]),
    "verify_patches check": ("npu_compat.commands.verify_patches", ["check", "--no-import-check"]),
    "verify_patches apply": ("npu_compat.commands.verify_patches", ["apply", "--out", "{out}/tree"]),
    "verify_patches matrix": ("npu_compat.commands.verify_patches", ["matrix"]),
    "verify_patches refresh": ("npu_compat.commands.verify_patches", ["refresh"]),
    "verify_patches scan": ("npu_compat.commands.verify_patches", ["scan"]),
    "env": ("npu_compat.env.__main__", []),
    "env check": ("npu_compat.env.__main__", ["check"]),
    "env constraints": ("npu_compat.env.__main__", ["constraints"]),
    "parity capture": ("npu_compat.parity.__main__", ["capture", "--out", "{out}/i.json"]),
    "parity replay": ("npu_compat.parity.__main__", ["replay", "--inventory", "{inventory.json}"]),
    "parity e2e": ("npu_compat.parity.__main__", ["e2e"]),
    "parity coverage": ("npu_compat.parity.__main__", ["coverage"]),
    "apply": ("npu_compat.apply", []),  # the program after "--" comes last
}

INPUT_FILES = {"checkpoint", "image", "coco_ann", "inventory", "series", "update_doc", "bpe", "against", "runs",
               "inputs", "video", "sources", "a", "b"}
INPUT_FOLDERS = {"coco_img", "patched_tree", "golden_dump", "device_dump"}
OUTPUT_FILES = {"json", "markdown", "output_json", "report", "out_json", "out_md", "output", "out_md"}
OUTPUT_FOLDERS = {"out", "out_dir", "surface_dir", "msprobe_dir"}
# Options whose every value is accepted here and checked where the work starts (or that take any text), with why.
FREE = {
    "upstream": "a source spec (pypi:/dir:/git:), checked when the series is applied",
    "label_a": "any name", "label_b": "any name", "as_label": "any name", "base": "a git revision",
    "date": "any text", "download": "a torch_npu version, checked by pip",
    "plant_fault": "a fault name, checked against the planted faults before any run",
    "truthful": "any module prefix", "no_pack": "a pack name, checked by the shim",
    "fallback_off": "an op name, checked by the shim", "torch_npu": "a version or file, checked by coverage",
    "point": "FRAME:X,Y, checked against the video's frames", "box": "checked against the picture",
    "simulate": "a torch_npu release, checked by the simulated npu",
    "config": "a config name, checked by Hydra", "names": "sub-benchmark names, checked before the run",
    "only": "finding names, checked before the check", "runs_capture": "checked before the capture",
    "prompt_e2e": "a text prompt", "site_dir": "a site-packages folder, used only with --install/--status",
}


def parser_of(command: str) -> argparse.ArgumentParser:
    module, base = COMMANDS[command]
    parser = importlib.import_module(module).build_parser()
    sub = command.split(" ")[1] if " " in command else None
    if sub:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[sub]
    return parser


def options(command: str) -> list[argparse.Action]:
    out = []
    for action in parser_of(command)._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.nargs == 0:
            continue
        out.append(action)
    return out


NUMBER_TYPES = {int: "int", float: "float", inputs.unit_interval: "unit", inputs.positive_int: "positive",
                inputs.non_negative_int: "non_negative", inputs.image_count: "image_count"}
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


FILE_OUTS = {("parity capture", "out")}  # an --out that names a file


def bad_values(action: argparse.Action, command: str = "") -> st.SearchStrategy[str] | None:
    """Values that ``action`` must refuse (None: the option takes any value; it is in FREE)."""
    kind = action.type
    if action.choices is not None and kind is None:
        return TEXT.filter(lambda v: v not in action.choices)
    name = getattr(kind, "__name__", "")
    if name == "_model":  # parity's --model: sam3, tiny (and the old name full)
        return TEXT.filter(lambda v: v not in ("sam3", "tiny", "full"))
    if name.startswith("int_in_"):
        low, high = (int(n) for n in name.split("_")[2:4])
        return st.one_of(st.integers(max_value=low - 1).map(str), st.integers(min_value=high + 1).map(str),
                         TEXT.filter(lambda v: not _is_int(v)))
    if kind in (inputs.positive_int, inputs.non_negative_int, inputs.image_count):
        low = {inputs.positive_int: 1, inputs.non_negative_int: 0, inputs.image_count: 1}[kind]
        below = st.integers(max_value=low - 1).filter(lambda v: not (kind is inputs.image_count and v == -1))
        return st.one_of(below.map(str), TEXT.filter(lambda v: not _is_int(v)))
    if kind is inputs.unit_interval:
        return st.one_of(st.sampled_from(["nan", "inf", "-inf", "-0.5", "1.0001", "1e9"]),
                         st.floats(min_value=1.0, exclude_min=True).map(repr), TEXT.filter(lambda v: not _num(v)))
    if kind is inputs.prompt_text:
        return st.one_of(st.sampled_from(["", " ", "\t\n"]),
                         st.integers(inputs.MAX_PROMPT_CHARS + 1, 12000).map(lambda n: "a" * n))
    if kind is inputs.parse_box:
        return st.one_of(TEXT, st.tuples(*[st.floats(allow_nan=True) for _ in range(4)]).map(
            lambda t: ",".join(map(repr, t))).filter(lambda v: not _valid_box(v)))
    if kind is device_spec:
        return st.one_of(st.sampled_from(["", " ", "tpu", "cuda:x", "cpu:1", "npu:-1", "gpu"]),
                         st.text(alphabet=string.ascii_lowercase, max_size=6).filter(lambda v: not _valid_device(v)))
    if kind is existing_file or action.dest in INPUT_FILES | INPUT_FOLDERS:
        return st.sampled_from(["{dir}/missing", "{afile}/below", "{empty_folder}" if action.dest in INPUT_FILES
                                else "{afile}"])
    if action.dest == "compare":  # parity coverage --compare NEW=OLD: two inventory files
        return st.sampled_from(["{inventory.json}", "={inventory.json}", "{inventory.json}=",
                                "{dir}/missing={inventory.json}", "{inventory.json}={afile}/below"])
    if action.dest in OUTPUT_FILES or (command, action.dest) in FILE_OUTS:
        return st.sampled_from(["{afile}/below.json", "{empty_folder}"])
    if action.dest in OUTPUT_FOLDERS:
        return st.sampled_from(["{afile}/below", "{afile}"])
    return None


def _num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _valid_box(text: str) -> bool:
    try:
        inputs.parse_box(text)
    except argparse.ArgumentTypeError:
        return False
    return True


def _valid_device(text: str) -> bool:
    try:
        device_spec(text)
    except argparse.ArgumentTypeError:
        return False
    return True


def _free_key(command: str, action: argparse.Action) -> str:
    return {("parity capture", "runs"): "runs_capture", ("parity e2e", "prompt"): "prompt_e2e"}.get(
        (command, action.dest), action.dest)


CASES = [(command, action.option_strings[-1] if action.option_strings else action.dest)
         for command in COMMANDS for action in options(command) if bad_values(action, command) is not None]


def test_every_option_of_every_command_is_generated_or_named_free():
    """A new option must get a bad-value strategy here, or a line in FREE saying why any value is fine."""
    unclassified = sorted({f"{command}: {a.dest}" for command in COMMANDS for a in options(command)
                           if bad_values(a, command) is None and _free_key(command, a) not in FREE})
    assert unclassified == []
    assert len(CASES) >= 80


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, str]:
    import zipfile

    from PIL import Image

    from npu_compat.sam3.video_io import synthetic_video, write_video

    d = tmp_path_factory.mktemp("generated")
    Image.new("RGB", (64, 48), (120, 30, 200)).save(d / "good.png")
    write_video(d / "clip.mp4", synthetic_video(2, 48, 64), fps=2)
    (d / "ann.json").write_text((ROOT / "tests" / "data" / "coco_mini" / "instances.json").read_text())
    (d / "images").mkdir()
    (d / "a.json").write_text(json.dumps({"loss": 1.0}))
    (d / "b.json").write_text(json.dumps({"loss": 2.0}))
    (d / "afile").write_text("a plain file\n")
    (d / "empty_folder").mkdir()
    (d / "inventory.json").write_text((ROOT / "npu_compat" / "data" / "sam3_inventory_tiny_fp32.json").read_text())
    with zipfile.ZipFile(d / "torch_npu-3.0.0-py3-none-any.whl", "w") as archive:
        archive.writestr("torch_npu/version.py", "__version__ = '3.0.0'\n")
    (d / "script.py").write_text("print('ran')\n")
    (d / "out").mkdir()
    return {p.name: str(p) for p in d.iterdir()} | {"dir": str(d), "out": str(d / "out")}


def snapshot(folder: str) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(Path(folder).rglob("*"))}


def fill(text: str, fx: dict[str, str]) -> str:
    """``{name}`` replaced by the fixture's path of that name."""
    for name, path in fx.items():
        text = text.replace("{" + name + "}", path)
    return text


def argv_for(command: str, action: argparse.Action, value: str, fx: dict[str, str]) -> list[str]:
    _, base = COMMANDS[command]
    base = [fill(a, fx) for a in base]
    value = fill(value, fx) if value.startswith("{") else value
    if not action.option_strings:  # a positional: the bad value takes the good one's place
        base = [a for a in base if a not in {fx.get(k) for k in ("good.png", "clip.mp4", "a.json", "b.json",
                                                                    "torch_npu-3.0.0-py3-none-any.whl")}]
        extra = [fx["b.json"]] if command == "compare_runs" else []
        argv = [*base, value, *extra] if command != "bench" else [*base, value]
    else:
        argv = [*base, f"{action.option_strings[-1]}={value}"]
    return [*argv, "--", fx["script.py"]] if command == "apply" else argv


@pytest.fixture
def no_work(monkeypatch):
    for module, name in WORK:
        monkeypatch.setattr(importlib.import_module(module), name, _accept)


@pytest.mark.parametrize("command, option", CASES, ids=[f"{c}:{o}" for c, o in CASES])
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_bad_value_is_one_line_exit_2_and_writes_nothing(command, option, data, fx, no_work, capsys):
    action = next(a for a in options(command) if (a.option_strings[-1] if a.option_strings else a.dest) == option)
    value = data.draw(bad_values(action, command), label=option)
    argv = argv_for(command, action, value, fx)
    before = snapshot(fx["dir"])
    main = importlib.import_module(COMMANDS[command][0]).main
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 2
    except Accepted:
        code = "accepted: the work started"
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"{argv!r}: exit {code}; stderr: {err[-800:]}"
    assert "Traceback" not in err and len(lines) == 1 and "error" in lines[0], f"{argv!r}: {err[-800:]}"
    assert snapshot(fx["dir"]) == before, f"{argv!r} wrote, removed or changed a file"
