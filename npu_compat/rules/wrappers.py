"""Replacement factories shared by the rule tables.

Each factory takes ``(ctx, rule, original)`` and returns the replacement. Wrappers call the
original directly when nothing needs rewriting, so a call with no CUDA argument costs one
dict lookup per watched keyword.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

from npu_compat.patcher import Context, Rule


def kwargs_device(*names: str, ints: bool = False, pin_kw: bool = False,
                  position: int | None = None) -> Callable[[Context, Rule, Any], Any]:
    """Map device-valued keyword arguments (``device=``, ``map_location=``...), and the
    positional argument at ``position`` when the callable takes the device positionally."""

    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        mapper, hit, key, cat = ctx.mapper, ctx.report.hit, rule.key, rule.category.value
        strip_pin = pin_kw and not ctx.target.caps.pin_memory

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if position is not None and len(args) > position:
                old = args[position]
                new = mapper.map(old, ints)
                if new is not old:
                    args = args[:position] + (new,) + args[position + 1 :]
                    hit(key, cat, old, new)
            if kwargs:
                for name in names:
                    old = kwargs.get(name)
                    if old is not None:
                        new = mapper.map(old, ints)
                        if new is not old:
                            kwargs[name] = new
                            hit(key, cat, old, new)
                if strip_pin and kwargs.get("pin_memory"):
                    kwargs["pin_memory"] = False
                    hit("pin_memory.argument", "no-op", True, False)
            return original(*args, **kwargs)

        return wrapper

    return make


def first_arg_device(name: str = "device") -> Callable[[Context, Rule, Any], Any]:
    """Map a device that may come as the first positional argument after self (``.to``)."""

    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        mapper, hit, key, cat = ctx.mapper, ctx.report.hit, rule.key, rule.category.value

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if args:
                old = args[0]
                new = mapper.map(old, True)
                if new is not old:
                    args = (new,) + args[1:]
                    hit(key, cat, old, new)
            if kwargs:
                old = kwargs.get(name)
                if old is not None:
                    new = mapper.map(old, True)
                    if new is not old:
                        kwargs[name] = new
                        hit(key, cat, old, new)
            return original(self, *args, **kwargs)

        return wrapper

    return make


def device_type_arg(position: int = 0, name: str = "device_type",
                    users_only: bool = False) -> Callable[[Context, Rule, Any], Any]:
    """Map a device *type* given positionally at ``position`` (after self) or by keyword.

    ``users_only``: callers inside torch or the kit get the original's answer. torch saves and
    restores global state through pairs of calls of which only one may be patched (dynamo reads
    ``is_autocast_enabled("cuda")`` and restores it with the unpatched ``set_autocast_enabled``),
    so torch must see the state as it is.
    """

    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        mapper, hit, key, cat = ctx.mapper, ctx.report.hit, rule.key, rule.category.value
        internal = ctx.report.caller_is_internal

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if users_only and internal():
                return original(*args, **kwargs)
            if len(args) > position:
                old = args[position]
                new = mapper.map_type(old)
                if new != old:
                    args = args[:position] + (new,) + args[position + 1 :]
                    hit(key, cat, old, new)
            elif name in kwargs:
                old = kwargs[name]
                new = mapper.map_type(old)
                if new != old:
                    kwargs[name] = new
                    hit(key, cat, old, new)
            return original(*args, **kwargs)

        return wrapper

    return make


def deprecation(fn: Any) -> tuple[Callable[..., Any], str, type[Warning]] | None:
    """``(undecorated function, message, category)`` for a function wrapped by ``@deprecated``
    (``typing_extensions`` / ``warnings``), else None."""
    message, inner, code = getattr(fn, "__deprecated__", None), getattr(fn, "__wrapped__", None), getattr(fn, "__code__", None)
    if not isinstance(message, str) or inner is None or code is None or not fn.__closure__:
        return None
    cells = dict(zip(code.co_freevars, (c.cell_contents for c in fn.__closure__)))
    category = cells.get("category")
    if not (isinstance(category, type) and issubclass(category, Warning)):
        return None
    return inner, message, category


def _counting(ctx: Context, rule: Rule, fn: Callable[..., Any], old: str) -> Callable[..., Any]:
    """``fn`` with every call counted at its call site as ``old -> target``.

    A ``@deprecated`` ``fn`` warns at the caller's line, not at this wrapper's."""
    hit, key, cat, new = ctx.report.hit, rule.key, rule.category.value, ctx.target.type
    deprecated = deprecation(fn)
    if deprecated is not None:
        inner, message, category = deprecated

        @functools.wraps(fn)
        def warning_wrapper(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(message, category, stacklevel=2)
            hit(key, cat, old, new)
            return inner(*args, **kwargs)

        return warning_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hit(key, cat, old, new)
        return fn(*args, **kwargs)

    return wrapper


def record_only(old: str) -> Callable[[Context, Rule, Any], Any]:
    """Count a call whose redirect happens further in (e.g. ``torch.cuda.amp.autocast``)."""
    return lambda ctx, rule, original: _counting(ctx, rule, original, old)


def replace_with(build: Callable[[Context], Callable[..., Any]], old: str) -> Callable[[Context, Rule, Any], Any]:
    """Replace with a target-specific function, counting each call at its call site."""
    return lambda ctx, rule, original: _counting(ctx, rule, build(ctx), old)
