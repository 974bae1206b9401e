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


OTHER_COMMANDS = re.compile(r"\b(torchrun|pip install|pip wheel|hf download)\b")


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
