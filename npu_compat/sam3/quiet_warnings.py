"""Warnings that upstream sam3 raises on every run and that say nothing about the run, silenced for sam3's own calls.

sam3 0.1.4 decorates functions with ``@torch.jit.script`` when its modules import (and scripts
a transform in ``sam1_utils``); torch 2.9 and later warn "`torch.jit.script` is deprecated" on
each call, so every SAM3 run under the shim starts with a FutureWarning the user cannot act on.

:data:`RULES` wraps ``torch.jit.script``: a call from a ``sam3`` module runs with a warnings
filter that ignores exactly that message (FutureWarning only), scoped to the call; calls from
anywhere else, the user's code included, are untouched and still warn. Revert restores
``torch.jit.script`` by identity, so no filter outlives the shim. Scripting itself is unchanged.

A process-wide entry in ``warnings.filters`` is not used: ``warnings.catch_warnings`` blocks
(pytest, user code) save and restore that list, and restoring it on revert would undo theirs.
"""
from __future__ import annotations

import functools
import sys
import warnings
from typing import Any

from npu_compat.patcher import Category, Context, Rule

JIT_SCRIPT_DEPRECATED = r"`torch\.jit\.script` is (deprecated|not supported in Python 3\.14\+)"
QUIET_CALLERS = ("sam3",)  # top-level packages whose calls are silenced


def _from_quiet_caller(depth: int = 2) -> bool:
    name = sys._getframe(depth).f_globals.get("__name__", "")
    return name.split(".", 1)[0] in QUIET_CALLERS


def _quiet_jit_script(ctx: Context, rule: Rule, original: Any) -> Any:
    @functools.wraps(original)
    def script(*args: Any, **kwargs: Any) -> Any:
        if len(args) < 3:  # a scripted class resolves names in its caller's frame: skip this one
            kwargs["_frames_up"] = kwargs.get("_frames_up", 0) + 1
        if not _from_quiet_caller():
            return original(*args, **kwargs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=JIT_SCRIPT_DEPRECATED, category=FutureWarning)
            return original(*args, **kwargs)

    return script


RULES = [
    Rule("sam3.quiet.jit_script", "torch.jit", "script", _quiet_jit_script, Category.MODIFIED,
         "torch's `torch.jit.script` deprecation FutureWarning is not printed for sam3's own calls "
         "(other callers still see it); scripting is unchanged"),
]

__all__ = ["RULES", "JIT_SCRIPT_DEPRECATED"]
