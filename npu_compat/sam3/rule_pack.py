"""SAM3's rule pack: how the shim finds the SAM3 fixes (``--no-pack sam3`` or ``--no-sam3`` leaves them out).

Options for this pack come from ``ShimOptions.pack_options["sam3"]``: ``bpe_path`` (``--bpe``).
"""
from __future__ import annotations

from npu_compat.rule_packs import RulePack


def _rules(target):  # type: ignore[no-untyped-def]
    from npu_compat.sam3.rules import sam3_rules

    return sam3_rules(target)


PACK = RulePack("sam3", _rules, "SAM3 import, vocabulary, build-device and video fixes")
