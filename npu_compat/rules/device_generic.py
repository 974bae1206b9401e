"""Device-generic APIs: ``torch.accelerator.*``, ``torch.get_device_module``, ``torch.Stream``,
``torch.Event`` and ``torch.Generator`` with a "cuda" device.

On an accelerator target torch's own ``torch.accelerator`` already answers for it (torch_npu
registers npu as the accelerator), so only the "cuda" device values are mapped. On the cpu
target ``torch.accelerator`` answers like ``torch.cuda``: available (by the ``--cuda-available``
policy, the truth to excluded libraries), the accelerator is "cuda" (which every other rule sends
to the target, so ``torch.autocast(acc.type)`` follows the autocast policy), one device, and
the stand-ins of ``npu_compat.cpu_standins`` for streams, synchronisation and memory.
``Stream``, ``Event`` and ``Generator`` become proxy classes that map the device and keep
``isinstance`` working.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from npu_compat import cpu_standins
from npu_compat.patcher import Category, Context, Rule
from npu_compat.rules.availability import caller_policy, is_available_rule
from npu_compat.rules.cuda_module import COUNTED_DEVICES, CpuDevices, translating
from npu_compat.rules.proxy_types import proxy_class
from npu_compat.rules.wrappers import kwargs_device, replace_with
from npu_compat.target import Target

M, MOD, NOOP = Category.MATCH, Category.MODIFIED, Category.NOOP


@dataclass(frozen=True)
class AcceleratorRow:
    name: str
    standin: str | None  # attribute of this module or cpu_standins; None: kept, failures translated
    category: Category = Category.MATCH
    note: str = ""


def _ignored(*args: Any, **kwargs: Any) -> None:
    return None


@contextlib.contextmanager
def _device_index(device: Any, /) -> Iterator[None]:
    yield None


def _current_stream(device: Any = None, /) -> Any:
    return cpu_standins.current_stream()


def _memory_info(device_index: Any = None, /) -> tuple[int, int]:
    return cpu_standins.mem_get_info()


LOCAL = {"_ignored": _ignored, "_device_index": _device_index,
         "_current_stream": _current_stream, "_memory_info": _memory_info}

ACCELERATOR_CPU: tuple[AcceleratorRow, ...] = (
    AcceleratorRow("device_count", "device_count", MOD, "--device-count (default 1), as torch.cuda.device_count"),
    AcceleratorRow("current_device_index", "current_device", MOD, "the index last set, as torch.cuda.current_device"),
    AcceleratorRow("current_device_idx", "current_device", MOD, "the index last set, as torch.cuda.current_device"),
    AcceleratorRow("set_device_index", "set_device", MOD, "recorded, as torch.cuda.set_device"),
    AcceleratorRow("set_device_idx", "set_device", MOD, "recorded, as torch.cuda.set_device"),
    AcceleratorRow("device_index", "_device_index", NOOP, "one CPU device"),
    AcceleratorRow("synchronize", "synchronize"),
    AcceleratorRow("current_stream", "_current_stream", MOD, "the one host stream (cpu_standins.Stream)"),
    AcceleratorRow("set_stream", "_ignored", NOOP, "CPU work runs in order"),
    AcceleratorRow("empty_cache", "empty_cache", NOOP, "no caching allocator on the CPU"),
    AcceleratorRow("empty_host_cache", "_ignored", NOOP, "no pinned host cache on the CPU"),
    AcceleratorRow("get_memory_info", "_memory_info", MOD, "host MemAvailable and total"),
    AcceleratorRow("memory_allocated", "memory_allocated", MOD, "process RSS, not tensor bytes"),
    AcceleratorRow("max_memory_allocated", "max_memory_allocated", MOD, "process peak RSS"),
    AcceleratorRow("memory_reserved", "memory_reserved", MOD, "process RSS"),
    AcceleratorRow("max_memory_reserved", "max_memory_reserved", MOD, "process peak RSS"),
    AcceleratorRow("memory_stats", "memory_stats", MOD, "three RSS-based keys only"),
    AcceleratorRow("reset_peak_memory_stats", "reset_peak_memory_stats", MOD, "later peaks count from the RSS at reset"),
    AcceleratorRow("reset_accumulated_memory_stats", "reset_accumulated_memory_stats", NOOP, "nothing accumulates"),
)


def _standin(row: AcceleratorRow):  # type: ignore[no-untyped-def]
    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        name = row.standin or ""
        fn = getattr(CpuDevices.of(ctx), name) if name in COUNTED_DEVICES else LOCAL.get(name) or getattr(cpu_standins, name)
        return replace_with(lambda _ctx: fn, f"torch.accelerator.{row.name}")(ctx, rule, original)

    return make


def _current_accelerator(ctx: Context, rule: Rule, original: Any) -> Any:
    answer_for = caller_policy(ctx, original)
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    cuda = torch.device("cuda")

    def current_accelerator(check_available: bool = False) -> torch.device | None:
        answer = answer_for(sys._getframe(1).f_globals.get("__name__", ""))
        if answer is None:
            return original(check_available)
        if not answer:
            return None
        hit(key, cat, "current_accelerator()", "cuda (sent to the cpu target)")
        return cuda

    return current_accelerator


def _device_proxy(ctx: Context, rule: Rule, original: Any) -> Any:
    """``torch.Stream`` / ``torch.Event`` / ``torch.Generator`` with the device (first positional
    or ``device=``) mapped; ``isinstance`` against the proxy asks the real class.

    On the cpu target torch's CPU events cannot record, so a Stream or Event for "cuda" (or for
    no device: torch would pick CUDA, the build's accelerator, and fail without a GPU) is the
    host stand-in of ``cpu_standins`` (one in-order stream, host-clock events), which
    ``isinstance`` accepts too. A Stream or Event the script asks for on "cpu" is torch's own.
    """
    mapper, hit, key, cat = ctx.mapper, ctx.report.hit, rule.key, rule.category.value
    standin = getattr(cpu_standins, rule.attr) if ctx.target.type == "cpu" and rule.attr in ("Stream", "Event") else None

    def construct(*args: Any, **kwargs: Any) -> Any:
        old = args[0] if args else kwargs.get("device")
        new = mapper.map(old, True) if old is not None else None
        if standin is not None and (old is None or new is not old):
            kwargs.pop("device", None)
            hit(key, cat, "no device" if old is None else old, f"host {rule.attr.lower()} stand-in", depth=3)
            return standin(*args[1:], **kwargs)
        if new is not old:
            hit(key, cat, old, new, depth=3)
            if args:
                args = (new,) + args[1:]
            else:
                kwargs["device"] = new
        return original(*args, **kwargs)

    if standin is None:
        return proxy_class(original.__name__, construct, original)
    return proxy_class(original.__name__, construct, original, lambda obj: isinstance(obj, (original, standin)))


def device_generic_rules(target: Target) -> list[Rule]:
    if target.type == "cuda":
        return []
    rules = [
        Rule(f"device.torch.{name}", "torch", name, _device_proxy,
             unchecked="a C class: replaced by a proxy class whose construction calls the original with the same arguments")
        for name in ("Stream", "Event", "Generator")
    ]
    if target.type != "cpu":
        rules.append(Rule("device.torch.get_device_module", "torch", "get_device_module",
                          kwargs_device("device", position=0)))
        return rules
    rules += [
        Rule("accelerator.is_available", "torch.accelerator", "is_available", is_available_rule, MOD,
             "answers like torch.cuda.is_available (--cuda-available policy; the truth to excluded libraries)"),
        Rule("accelerator.current_accelerator", "torch.accelerator", "current_accelerator", _current_accelerator, MOD,
             "cuda, which the other rules send to the cpu target (None under --cuda-available false)"),
    ]
    for row in ACCELERATOR_CPU:
        rules.append(Rule(f"accelerator.{row.name}", "torch.accelerator", row.name, _standin(row),
                          row.category, row.note))
    covered = {r.attr for r in rules if r.owner == "torch.accelerator"}
    for name in getattr(torch.accelerator, "__all__", ()):
        if name not in covered:
            api = f"torch.accelerator.{name}"
            rules.append(Rule(f"accelerator.missing.{name}", "torch.accelerator", name,
                              lambda ctx, rule, original, api=api: translating(api, "cpu", original), MOD,
                              "no cpu equivalent: kept, a call that needs CUDA fails with a one-line error naming the API",))
    return rules
