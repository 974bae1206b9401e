"""SAM3's rule pack: how the shim finds the SAM3 fixes (``--no-pack sam3`` or ``--no-sam3`` leaves them out).

Options for this pack come from ``ShimOptions.pack_options["sam3"]``: ``bpe_path`` (``--bpe``),
declared below so that the shim's command line offers them without naming this pack.
"""
from __future__ import annotations

import argparse
import os

from npu_compat.rule_packs import PackOption, RulePack


def _rules(target):  # type: ignore[no-untyped-def]
    # lazily: sam3.rules reads upstream sam3's layout; a command line or an apply() with the pack off never loads it
    from npu_compat.sam3.rules import sam3_rules

    return sam3_rules(target)


def readable_file(text: str) -> str:
    """An argparse type: a path that names a readable file."""
    if not os.path.isfile(text) or not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text[:200]!r} is not a readable file; check the path")
    return text


PACK = RulePack(
    "sam3", _rules, "SAM3 import, vocabulary, build-device and video fixes",
    options=(PackOption("--bpe", "bpe_path", "sam3 BPE vocabulary (default: $SAM3_BPE_PATH or open-clip-torch's copy)",
                        metavar="PATH", type=readable_file),),
    off_flag="--no-sam3",
)
