"""The flags the docs name are the flags the parsers have, so a renamed or dropped flag fails CI.

For each tool section of the docs: every ``--flag`` it names exists in that tool's parser, and every
flag of the parser (other than the shared shim flags, documented in docs/shim.md) is named there.
"""
from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def tool_parser(name: str) -> argparse.ArgumentParser:
    return importlib.import_module(f"npu_compat.commands.{name}").build_parser()


def flags(parser: argparse.ArgumentParser, include_shim: bool = True) -> set[str]:
    out = set()
    groups = [g for g in parser._action_groups if include_shim or g.title != "shim"]
    for group in groups:
        for action in group._group_actions:
            out.update(o for o in action.option_strings if o.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    out |= flags(sub, include_shim)
    return out - {"--help"}


def section(doc: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    text = (ROOT / doc).read_text()
    level = heading.split(" ")[0]
    start = text.index(heading + "\n")
    rest = text[start + len(heading):]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, re.M)
    return rest[: stop.start()] if stop else rest


OTHER_COMMANDS = re.compile(r"\b(torchrun|torch\.distributed\.run|pip install|pip wheel|hf download)\b")


def named(text: str) -> set[str]:
    """Flags named in ``text``; on a line that also runs another program, only those before it."""
    out: set[str] = set()
    for line in text.splitlines():
        other = OTHER_COMMANDS.search(line)
        out |= set(FLAG.findall(line[: other.start()] if other else line))
    return out - {"--help"}


SECTIONS = [
    ("docs/workloads.md", "## `tools/sam3_demo.py`", "sam3_demo"),
    ("docs/workloads.md", "## `tools/sam3_infer.py`", "sam3_infer"),
    ("docs/workloads.md", "## `tools/coco_eval.py`", "coco_eval"),
    ("docs/video.md", "## tools/sam3_video.py", "sam3_video"),
]


@pytest.mark.parametrize("doc, heading, tool", SECTIONS, ids=[s[2] for s in SECTIONS])
def test_tool_section_names_exactly_the_parsers_flags(doc, heading, tool):
    parser = tool_parser(tool)
    documented = named(section(doc, heading))
    assert documented - flags(parser) == set(), f"{doc} names flags {tool} does not have"
    assert flags(parser, include_shim=False) - documented == set(), f"{doc} does not name these flags of {tool}"


def test_parity_doc_names_only_parity_flags():
    from npu_compat.parity.__main__ import build_parser

    assert named((ROOT / "docs" / "parity.md").read_text()) - flags(build_parser()) == set()


def test_env_commands_in_the_docs_use_real_flags():
    from npu_compat.env.__main__ import build_parser

    lines = [line for line in (ROOT / "docs" / "env.md").read_text().splitlines() if "npu_compat.env" in line]
    assert lines
    assert named("\n".join(lines)) - flags(build_parser()) == set()


def test_readme_names_only_flags_the_kit_has():
    from npu_compat.apply import build_parser as apply_parser

    known = flags(apply_parser()) | flags(tool_parser("sam3_demo")) | flags(tool_parser("sam3_video"))
    assert named((ROOT / "README.md").read_text()) - known == set()


def test_flag_finder_sees_flags_in_code_spans_and_prose():
    assert named("use `--rle-workers 2` or --top-k, not x--y") == {"--rle-workers", "--top-k"}
    assert named("tools/coco_eval.py --resume; torchrun --nproc-per-node 8 x") == {"--resume"}
    assert named("a - b -- c") == set()


def test_a_renamed_flag_is_caught():
    """The check can fail: a parser without a flag the docs name."""
    parser = tool_parser("coco_eval")
    documented = named(section("docs/workloads.md", "## `tools/coco_eval.py`"))
    documented.add("--rle-threads")
    assert documented - flags(parser) == {"--rle-threads"}


COMMAND_MODULES = {  # how the docs name each command -> the module with its build_parser()
    "sam3_demo": "npu_compat.commands.sam3_demo", "sam3-demo": "npu_compat.commands.sam3_demo",
    "sam3_infer": "npu_compat.commands.sam3_infer", "sam3-infer": "npu_compat.commands.sam3_infer",
    "sam3_video": "npu_compat.commands.sam3_video", "sam3-video": "npu_compat.commands.sam3_video",
    "coco_eval": "npu_compat.commands.coco_eval", "coco-eval": "npu_compat.commands.coco_eval",
    "compare_runs": "npu_compat.commands.compare_runs", "compare-runs": "npu_compat.commands.compare_runs",
    "bench": "npu_compat.commands.bench", "npu-compat-bench": "npu_compat.commands.bench",
    "verify_patches": "npu_compat.commands.verify_patches", "verify-patches": "npu_compat.commands.verify_patches",
    "extract_npu_kernels": "npu_compat.commands.extract_npu_kernels",
    "extract-npu-kernels": "npu_compat.commands.extract_npu_kernels",
    "train_sample_set": "npu_compat.commands.train_sample_set", "train-sample-set": "npu_compat.commands.train_sample_set",
    "npu_compat.apply": "npu_compat.apply", "npu_compat.env": "npu_compat.env.__main__",
    "npu_compat.parity": "npu_compat.parity.__main__", "npu_compat.training.launch": "npu_compat.training.launch",
}
COMMAND = re.compile(r"(?:tools/(\w+)\.py|(?<![\w./-])(sam3-demo|sam3-infer|sam3-video|coco-eval|compare-runs|"
                     r"npu-compat-bench|verify-patches|extract-npu-kernels|train-sample-set)(?![\w-])|"
                     r"-m (npu_compat\.(?:apply|env|parity|training\.launch))\b|-m npu_compat\.commands\.(\w+))")
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def command_lines(text: str) -> list[tuple[str, str]]:
    """(command, the text after it up to the next command or other program) for each command run in ``text``."""
    out = []
    for line in text.splitlines():
        marks = list(COMMAND.finditer(line))
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
            rest = line[mark.end():end]
            other = OTHER_COMMANDS.search(rest)
            command = next(g for g in mark.groups() if g)
            rest = rest[: other.start()] if other else rest
            if command == "npu_compat.apply":  # its own flags end where the program starts
                rest = re.split(r"\s(?:--|-m)\s", rest + " ")[0]
            out.append((command, rest))
    return out


def _flags_of(command: str) -> set[str]:
    return flags(importlib.import_module(COMMAND_MODULES[command]).build_parser())


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_page_runs_commands_only_with_flags_they_have(page):
    """Every doc page and the README: each command run there (tools/X.py, its console script, python -m
    npu_compat.X) names only flags its parser has."""
    wrong = set()
    for command, rest in command_lines(page.read_text()):
        if command not in COMMAND_MODULES:
            continue
        wrong |= {f"{command} {flag}" for flag in FLAG.findall(rest) if flag != "--help"} - {
            f"{command} {flag}" for flag in _flags_of(command)}
    assert wrong == set(), f"{page.name} runs commands with flags they do not have"


def test_every_page_is_read():
    names = {p.name for p in PAGES}
    assert {"benchmarks.md", "workloads.md", "video.md", "README.md"} <= names and len(names) >= 12


def test_a_made_up_flag_on_a_command_line_is_caught():
    found = command_lines("    python tools/bench.py postprocess --classes 80 --rounds 1 | pip install --user x")
    assert found == [("bench", " postprocess --classes 80 --rounds 1 | ")]
    assert set(FLAG.findall(found[0][1])) - _flags_of("bench") == {"--classes"}
