"""``torch.cuda.*`` -> the target's device module, or honest CPU stand-ins.

One row per name. On an accelerator target the row redirects to the same name in the
target's module (``torch.npu``, ``torch.xpu``, ``torch.mps``); a name the module lacks is
skipped and reported. On the cpu target the row uses ``npu_compat.cpu_standins`` with the
category and note given here. On the cuda target there is nothing to redirect.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from npu_compat import cpu_standins
from npu_compat.patcher import MISSING, Category, Context, Rule
from npu_compat.rules.wrappers import replace_with
from npu_compat.target import Target

M, MOD, NOOP = Category.MATCH, Category.MODIFIED, Category.NOOP


@dataclass(frozen=True)
class CudaRow:
    name: str
    cpu_category: Category = Category.MATCH
    cpu_note: str = ""


CUDA_MODULE_TABLE: tuple[CudaRow, ...] = (
    CudaRow("synchronize"),
    CudaRow("current_device", MOD, "always 0: the cpu target has one device"),
    CudaRow("device_count", MOD, "always 1"),
    CudaRow("set_device", NOOP, "one CPU device"),
    CudaRow("get_device_name", MOD, "names the host CPU"),
    CudaRow("get_device_capability", MOD, "(0, 0): no CUDA capability, so sm80+ paths stay off"),
    CudaRow("get_device_properties", MOD, "host memory and cores; major=minor=0"),
    CudaRow("is_bf16_supported"),
    CudaRow("memory_allocated", MOD, "process RSS, not tensor bytes"),
    CudaRow("max_memory_allocated", MOD, "process peak RSS"),
    CudaRow("memory_reserved", MOD, "process RSS"),
    CudaRow("max_memory_reserved", MOD, "process peak RSS"),
    CudaRow("reset_peak_memory_stats", MOD, "later peaks count from the RSS at reset"),
    CudaRow("reset_max_memory_allocated", MOD, "later peaks count from the RSS at reset"),
    CudaRow("memory_stats", MOD, "three RSS-based keys only"),
    CudaRow("mem_get_info", MOD, "host MemAvailable and total"),
    CudaRow("empty_cache", NOOP, "no caching allocator on the CPU"),
    CudaRow("manual_seed"),
    CudaRow("manual_seed_all"),
    CudaRow("seed"),
    CudaRow("seed_all"),
    CudaRow("initial_seed"),
    CudaRow("get_rng_state", MOD, "the CPU generator's state"),
    CudaRow("set_rng_state", MOD, "the CPU generator's state"),
    CudaRow("Stream", MOD, "one in-order host stream; every query is complete"),
    CudaRow("Event", MOD, "host-clock timing"),
    CudaRow("current_stream", MOD, "the one host stream"),
    CudaRow("default_stream", MOD, "the one host stream"),
    CudaRow("set_stream", NOOP, "one host stream"),
    CudaRow("stream", NOOP, "CPU work runs in order"),
    CudaRow("device", NOOP, "one CPU device"),
    CudaRow("is_initialized", MOD, "always True"),
    CudaRow("init", NOOP, "nothing to initialise"),
    CudaRow("ipc_collect", NOOP, "nothing to collect"),
)


def _source(target: Target, name: str) -> Any:
    if target.type == "cpu":
        return getattr(cpu_standins, name)
    module = target.module
    return getattr(module, name, MISSING) if module is not None else MISSING


def _make(name: str):  # type: ignore[no-untyped-def]
    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        fn = _source(ctx.target, name)
        if fn is MISSING or inspect.isclass(fn):
            return fn  # classes are aliased, not wrapped, so isinstance and subclassing work
        return replace_with(lambda _ctx: fn, f"torch.cuda.{name}")(ctx, rule, original)

    return make


def cuda_module_rules(target: Target) -> list[Rule]:
    if target.type == "cuda":
        return []
    rules = []
    for row in CUDA_MODULE_TABLE:
        category, note = (row.cpu_category, row.cpu_note) if target.type == "cpu" else (Category.MATCH, "")
        if category is not Category.MATCH and not note:
            note = "differs on the cpu target"
        rules.append(Rule(f"cuda.{row.name}", "torch.cuda", row.name, _make(row.name), category, note))
    return rules
