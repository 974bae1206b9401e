"""Op fallbacks as declared rows, with per-op counters, first call sites and a strict mode.

A :class:`FallbackRule` says which op or function, on which targets, under which condition
(a predicate on the call: dtype, argument) and what to do instead:

- ``cpu-and-back``: move tensor arguments to the CPU, run there, move tensor results back;
- ``cast-up-and-back``: cast tensors of the listed dtypes up (e.g. bf16 -> fp32), run, cast back;
- ``rewrite-args``: call the same op with rewritten arguments (``scale_factor`` -> ``size``);
- ``alternative``: call another implementation.

:class:`FallbackRegistry` turns rows into the lead's patch ``Rule`` rows (python level) or
``torch.library`` impls (dispatcher level), counts every fallback that fires per op, records
its first user call site, and in ``--strict`` mode raises :class:`FallbackError` naming the op
instead of falling back. ``--fallback-off OP`` leaves one row uninstalled.
"""
from __future__ import annotations

import enum
import linecache
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch

from npu_compat.errors import FallbackError
from npu_compat.report import is_internal_file, user_depth

if TYPE_CHECKING:
    from npu_compat.patcher import Context

Call = Callable[..., Any]
Condition = Callable[[tuple[Any, ...], Mapping[str, Any]], bool]


class Action(str, enum.Enum):
    CPU = "cpu-and-back"
    CAST_UP = "cast-up-and-back"
    REWRITE_ARGS = "rewrite-args"
    ALTERNATIVE = "alternative"


@dataclass(frozen=True)
class FallbackRule:
    """One row: ``op`` is the name users pass to ``--fallback-off`` and the report's key."""

    op: str
    targets: tuple[str, ...]
    action: Action
    why: str
    cost: str
    owner: str = ""  # python level: where the function lives ("torch.nn.functional")
    attr: str = ""  # python level: its attribute name ("interpolate")
    aliases: tuple[str, ...] = ()  # python level: more "owner:attr" places holding the same function
    aten: str = ""  # dispatcher level: "aten::name.overload" (or "ns::name.overload")
    when: Condition | None = None  # None: every call on the target
    cast: tuple[torch.dtype, ...] = ()  # CAST_UP: dtypes to cast up
    cast_to: torch.dtype = torch.float32
    rewrite: Callable[[tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]] | None = None
    alternative: Call | None = None
    limit: str = ""  # the row of npu_compat.npu_releases.limits it works around: installed only where that holds

    @property
    def level(self) -> str:
        return "dispatcher" if self.aten else "python"

    def applies_to(self, target_type: str) -> bool:
        return target_type in self.targets or "*" in self.targets


@dataclass
class OpCounter:
    op: str
    action: str
    level: str
    count: int = 0
    first_site: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "action": self.action, "level": self.level, "count": self.count,
                "first_site": self.first_site}


def _first_user_frame(depth: int) -> dict[str, Any] | None:
    frame = sys._getframe(depth + 1)
    while frame is not None:
        code = frame.f_code
        if not is_internal_file(code.co_filename):
            return {"file": code.co_filename, "line": frame.f_lineno, "function": code.co_name,
                    "source": linecache.getline(code.co_filename, frame.f_lineno).strip()}
        frame = frame.f_back
    return None


@dataclass
class FallbackRegistry:
    """Counters and the strict switch for one shim session."""

    target_type: str
    target_device: torch.device
    strict: bool = False
    counters: dict[str, OpCounter] = field(default_factory=dict)

    @classmethod
    def for_context(cls, ctx: "Context") -> "FallbackRegistry":
        return cls(ctx.target.type, ctx.target.device(), bool(ctx.options.strict))

    def fire(self, rule: FallbackRule, depth: int = 1) -> None:
        """Count one fallback of ``rule`` (or raise in strict mode); ``depth`` frames up is the wrapper's caller."""
        if self.strict:
            raise FallbackError(
                f"op '{rule.op}' has no kernel for these arguments on {self.target_type} and would fall back "
                f"({rule.action.value}): {rule.why}",
                f"run without --strict to allow it, or --fallback-off {rule.op} to run the op unchanged",
            )
        counter = self.counters.get(rule.op)
        if counter is None:
            counter = self.counters[rule.op] = OpCounter(rule.op, rule.action.value, rule.level)
        if counter.first_site is None:
            counter.first_site = _first_user_frame(depth + 1)
        counter.count += 1

    def record_external(self, op: str, action: str, level: str, depth: int = 1) -> None:
        """Count a fallback the kit did not install (torch_npu's own CPU fallback, seen by its warning)."""
        counter = self.counters.get(op)
        if counter is None:
            counter = self.counters[op] = OpCounter(op, action, level)
        if counter.first_site is None:
            counter.first_site = _first_user_frame(depth + 1)
        counter.count += 1

    def as_dict(self) -> dict[str, Any]:
        return {op: c.as_dict() for op, c in sorted(self.counters.items())}

    def summary_lines(self) -> list[str]:
        lines = []
        for c in sorted(self.counters.values(), key=lambda c: -c.count):
            site = c.first_site
            where = f"{site['file']}:{site['line']}" if site else "(internal)"
            lines.append(f"  fallback {c.op:<28} {c.action:<17} {c.count:>8} calls  first at {where}")
        return lines


# ---- actions ------------------------------------------------------------------------------
def map_tensors(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """Apply ``fn`` to every tensor in nested tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, (list, tuple)):
        mapped = [map_tensors(v, fn) for v in value]
        return type(value)(mapped) if not hasattr(value, "_fields") else type(value)(*mapped)
    if isinstance(value, dict):
        return {k: map_tensors(v, fn) for k, v in value.items()}
    return value


def first_tensor(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, torch.Tensor):
                    return item
    return None


def run_fallback(rule: FallbackRule, original: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``original`` the way ``rule.action`` says."""
    if rule.action is Action.CPU:
        lead = first_tensor(args, kwargs)
        device = lead.device if lead is not None else torch.device("cpu")
        out = original(*map_tensors(args, lambda t: t.cpu()), **map_tensors(kwargs, lambda t: t.cpu()))
        return map_tensors(out, lambda t: t.to(device))
    if rule.action is Action.CAST_UP:
        lead = first_tensor(args, kwargs)
        back = lead.dtype if lead is not None else None

        def up(t: torch.Tensor) -> torch.Tensor:
            return t.to(rule.cast_to) if t.dtype in rule.cast else t

        out = original(*map_tensors(args, up), **map_tensors(kwargs, up))
        if back is None or back not in rule.cast:
            return out
        return map_tensors(out, lambda t: t.to(back) if t.dtype == rule.cast_to else t)
    if rule.action is Action.REWRITE_ARGS:
        assert rule.rewrite is not None, f"fallback {rule.op}: rewrite-args needs a rewrite function"
        new_args, new_kwargs = rule.rewrite(args, dict(kwargs))
        return original(*new_args, **new_kwargs)
    assert rule.alternative is not None, f"fallback {rule.op}: alternative needs an implementation"
    return rule.alternative(*args, **kwargs)


# ---- conditions ---------------------------------------------------------------------------
def on_device(device_type: str) -> Condition:
    """Any tensor argument lives on ``device_type``."""

    def cond(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        t = first_tensor(args, kwargs)
        return t is not None and t.device.type == device_type

    return cond


def dtype_in(*dtypes: torch.dtype) -> Condition:
    """The first tensor argument has one of ``dtypes``."""

    def cond(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        t = first_tensor(args, kwargs)
        return t is not None and t.dtype in dtypes

    return cond


def arg_given(name: str, position: int | None = None, unless: Any = None) -> Condition:
    """Argument ``name`` (or positional ``position``) is given and is not ``unless``."""

    def cond(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        if name in kwargs:
            return kwargs[name] is not unless and kwargs[name] != unless
        if position is not None and len(args) > position:
            return args[position] is not unless and args[position] != unless
        return False

    return cond


def all_of(*conds: Condition) -> Condition:
    def cond(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        return all(c(args, kwargs) for c in conds)

    return cond


__all__ = ["Action", "FallbackRule", "FallbackRegistry", "OpCounter", "run_fallback", "map_tensors", "on_device",
           "dtype_in", "arg_given", "all_of", "first_tensor", "user_depth"]
