"""The migration report: every redirected call, once per call site, with a count.

The hot path (``MigrationReport.hit``) does one frame lookup and one dict update. File
names, source lines and whether a frame is inside torch are resolved lazily, once per code
object, and source text only when the report is written. Schema: docs/report.md.
"""
from __future__ import annotations

import linecache
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any, NamedTuple

import torch
import torch._guards  # TracingContext: where torch.compile is in the user's code while it traces

from npu_compat.atomic_files import write_json_atomic
from npu_compat.errors import NpuCompatError

SCHEMA = "npu_compat/migration-report@1"
LOG = logging.getLogger("npu_compat")
LOG_LEVELS = {"quiet": logging.ERROR, "summary": logging.WARNING, "calls": logging.INFO, "debug": logging.DEBUG}

_TORCH_DIR = str(Path(torch.__file__).resolve().parent) + os.sep
_KIT_DIR = str(Path(__file__).resolve().parent) + os.sep
# The kit's commands are the user's side: sam3-demo is written as a CUDA user writes a script, and the
# report shows its call sites.
_COMMANDS_DIR = _KIT_DIR + "commands" + os.sep


# The frame from which torch.compile's tracer (dynamo) runs each op of the user's code once, on fake
# tensors, while it builds the graph: a redirected call made there is the user's, at the line the tracer is at.
_COMPILER_OP_RUNNER = ("run_node", str(Path(torch.__file__).resolve().parent / "_dynamo" / "utils.py"))
COMPILER = "compiler"  # MigrationReport._internal's mark for that frame (truthy: it is torch's own code)


class TracedFrame(NamedTuple):
    """A user frame that torch.compile traced (no live code object): what a Site needs of one."""

    co_filename: str
    co_name: str


def traced_user_site() -> tuple[TracedFrame, int] | None:
    """The innermost user frame (file, function, line) that torch.compile is tracing now, or None."""
    for summary in reversed(torch._guards.TracingContext.extract_stack()):
        if summary.lineno is not None and not is_internal_file(summary.filename):
            return TracedFrame(summary.filename, summary.name), summary.lineno
    return None


def is_internal_file(filename: str) -> bool:
    """Frames in torch or in the kit itself are not user call sites; nor is code that torch.compile generated
    (``<eval_with_key>``: its calls are reported at the user's line when the compiler traces them)."""
    if filename.startswith("<eval_with_key>"):
        return True
    try:
        path = os.path.realpath(filename)
    except (TypeError, ValueError):
        return False
    return path.startswith(_TORCH_DIR) or (path.startswith(_KIT_DIR) and not path.startswith(_COMMANDS_DIR))


def user_depth(depth: int = 1) -> int:
    """How many frames above the caller's frame (``depth`` up from here) the first user frame is:
    a dispatcher kernel is called from ``torch/_ops.py``, which is not the call site."""
    frame, extra = sys._getframe(depth + 1), 0
    while frame is not None and is_internal_file(frame.f_code.co_filename):
        frame, extra = frame.f_back, extra + 1
    return depth + extra


def _classify(code: CodeType) -> bool | str:
    """False for a user frame, True for torch's or the kit's, COMPILER for torch.compile's op runner."""
    if code.co_name == _COMPILER_OP_RUNNER[0] and os.path.realpath(code.co_filename) == _COMPILER_OP_RUNNER[1]:
        return COMPILER
    return is_internal_file(code.co_filename)


@dataclass
class Site:
    rule: str
    category: str
    code: CodeType | TracedFrame
    line: int
    old: str
    new: str
    count: int = 0

    def as_dict(self) -> dict[str, Any]:
        filename = self.code.co_filename
        return {
            "file": filename,
            "line": self.line,
            "function": self.code.co_name,
            "source": linecache.getline(filename, self.line).strip(),
            "rule": self.rule,
            "category": self.category,
            "old": self.old,
            "new": self.new,
            "count": self.count,
        }


@dataclass
class RuleStatus:
    key: str
    category: str
    status: str  # "installed", "skipped" or "pending" (owner module not imported yet)
    reason: str = ""
    note: str = ""
    signature: str = ""  # installed rows: "checked", "any call: ..." (C original) or "not checked: <why>"


@dataclass
class MigrationReport:
    """Collects rule statuses, runtime settings, call sites and fallbacks for one shim session."""

    target: dict[str, Any] = field(default_factory=dict)
    rules: list[RuleStatus] = field(default_factory=list)
    packs: list[str] = field(default_factory=list)  # rule packs installed, by name
    settings: list[dict[str, Any]] = field(default_factory=list)
    sites: dict[tuple[str, CodeType | TracedFrame, int], Site] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    fallbacks: Any = None  # npu_compat.fallbacks.FallbackRegistry, set by install_fallbacks
    processes: list[dict[str, Any]] = field(default_factory=list)  # child reports, merged by the root
    _internal: dict[CodeType, bool | str] = field(default_factory=dict, repr=False)  # True, False or COMPILER

    def caller_is_internal(self, depth: int = 2) -> bool:
        """Whether the caller ``depth`` frames up is torch or the kit (not a user call site)."""
        code = sys._getframe(depth).f_code
        internal = self._internal.get(code)
        if internal is None:
            internal = self._internal[code] = _classify(code)
        return bool(internal)

    def hit(self, rule: str, category: str, old: Any, new: Any, depth: int = 2) -> None:
        """Count one redirected call, attributed to the caller ``depth`` frames up.

        ``depth=2`` is the caller of the wrapper that calls ``hit``. Calls whose caller is
        torch or the kit itself are not user call sites and are not recorded, except the calls
        torch.compile's tracer makes for the user's code: those are recorded at the user's line
        (once per trace of that line, not once per run of the compiled code).
        """
        frame = sys._getframe(depth)
        code: CodeType | TracedFrame = frame.f_code
        line = frame.f_lineno
        internal = self._internal.get(code)  # type: ignore[call-overload]
        if internal is None:
            internal = self._internal[code] = _classify(code)  # type: ignore[index]
        if internal:
            traced = traced_user_site() if internal == COMPILER else None
            if traced is None:
                return
            code, line = traced
        key = (rule, code, line)
        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = Site(rule, category, code, line, _short(old), _short(new))
            if LOG.isEnabledFor(logging.INFO):
                d = site.as_dict()
                LOG.info("npu_compat: %s:%d %s [%s] %s -> %s", d["file"], d["line"], rule, category, d["old"], d["new"])
        site.count += 1

    # ---- output -------------------------------------------------------------------------
    def calls(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.sites.values()]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.created)),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "argv": list(sys.argv),
            "process": self.process,
            "target": self.target,
            "packs": self.packs,
            "settings": self.settings,
            "rules": [vars(r) for r in self.rules],
            "calls": self.calls(),
            "fallbacks": self.fallbacks.as_dict() if self.fallbacks is not None else {},
            "processes": self.processes,
        }

    @property
    def process(self) -> dict[str, Any]:
        """pid, parent pid and the torch.distributed rank variables of this process."""
        return process_identity()

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temp file, then rename), with the user's usual permissions."""
        return write_json_atomic(path, self.as_dict())

    def summary(self, report_path: str | os.PathLike[str] | None = None) -> str:
        by_rule: dict[str, list[Site]] = {}
        for site in self.sites.values():
            by_rule.setdefault(site.rule, []).append(site)
        skipped = [r for r in self.rules if r.status == "skipped"]
        total = sum(s.count for s in self.sites.values())
        head = (
            f"npu_compat: target {self.target.get('device', '?')}"
            + (f" ({self.target['backend']})" if self.target.get("backend") else "")
            + f"; {len(by_rule)} rules fired at "
            f"{len(self.sites)} call sites ({total} calls); {len(skipped)} rules skipped"
        )
        if report_path:
            head += f"; report: {report_path}"
        lines = [head]
        for rule, sites in sorted(by_rule.items(), key=lambda kv: -sum(s.count for s in kv[1])):
            lines.append(f"  {rule:<34} {sites[0].category:<9} {len(sites):>4} sites {sum(s.count for s in sites):>8} calls")
        if self.fallbacks is not None:
            lines += self.fallbacks.summary_lines()
        for setting in self.settings:
            lines.append(f"  setting {setting['key']}: {setting['old']} -> {setting['new']}")
        if self.processes:
            lines.append(f"  {len(self.processes)} child processes, each shimmed:")
        for child in self.processes:
            ident, calls = child.get("process", {}), child.get("calls", [])
            who = (f"rank {ident['rank']} " if "rank" in ident else "") + f"pid {ident.get('pid', '?')}"
            lines.append(f"    {who:<22} {len({c['rule'] for c in calls}):>3} rules fired at {len(calls):>4} call sites "
                         f"({sum(c['count'] for c in calls)} calls)")
        return "\n".join(lines)


def process_identity() -> dict[str, Any]:
    """pid, parent pid and RANK / LOCAL_RANK / WORLD_SIZE of this process, read now (a forked child differs)."""
    env = os.environ
    ident: dict[str, Any] = {"pid": os.getpid(), "parent_pid": os.getppid()}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        if env.get(key, "").isdigit():
            ident[key.lower()] = int(env[key])
    return ident


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else str(value) if isinstance(value, torch.device) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def configure_logging(level: str | None) -> None:
    """Set the kit's verbosity from ``--log-level`` or ``NPU_COMPAT_LOG``."""
    name = (level or os.environ.get("NPU_COMPAT_LOG") or "summary").lower()
    if name not in LOG_LEVELS:
        raise NpuCompatError(f"unknown log level '{name}'", f"use one of {', '.join(LOG_LEVELS)}")
    LOG.setLevel(LOG_LEVELS[name])
    if not LOG.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOG.addHandler(handler)
        LOG.propagate = False

