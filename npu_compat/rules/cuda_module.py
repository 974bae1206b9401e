"""The whole public ``torch.cuda`` surface -> the target's device module, or honest CPU stand-ins.

The names come from torch itself (``torch.cuda.__all__`` at apply time), so a new torch release
is covered without edits. On an accelerator target (npu, xpu, mps) each name goes to the same
name in the target's module (``torch.npu.X``; ``CUDAGraph`` -> ``NPUGraph``: "CUDA" in a name
becomes the target's), submodules (``amp``, ``graphs``, ``memory``...) included. On the cpu target
the rows of ``CPU_STANDINS`` use ``npu_compat.cpu_standins`` with the category and note given
there, and the legacy tensor types (``torch.cuda.FloatTensor``...) build tensors of their dtype
on the target. Every other name, on any target, is kept as torch has it, and a call that fails
(the target has no equivalent, CUDA is absent) raises a one-line ``MissingApiError`` naming the
API instead of a CUDA driver error. On the cuda target there is nothing to redirect.

On the npu target the names torch_npu has come from the API surface of the installed release
(``npu_compat/data/torch_npu_surface/``, read from its wheel), when the kit has data for it, else
from ``torch.npu`` itself; and the functions of ``torch.cuda``'s submodules (``memory``, ``random``,
``streams``, ``graphs``), private ones that tools call included (``torch.cuda.memory._record_memory_history``),
go to the same name in ``torch.npu``'s submodule, so ``from torch.cuda.memory import X`` is covered too.
"""
from __future__ import annotations

import functools
import inspect
import types
from dataclasses import dataclass
from typing import Any

import torch

from npu_compat import cpu_standins, npu
from npu_compat.errors import KernelListError, MissingApiError, NpuCompatError
from npu_compat.npu_releases.surface import TOOL_PATHS, Surface, load_surface
from npu_compat.patcher import MISSING, Category, Context, Rule
from npu_compat.rules.proxy_types import proxy_class
from npu_compat.rules.wrappers import replace_with
from npu_compat.target import Target

M, MOD, NOOP = Category.MATCH, Category.MODIFIED, Category.NOOP


@dataclass(frozen=True)
class CudaRow:
    name: str
    cpu_category: Category = Category.MATCH
    cpu_note: str = ""
    owner: str = "torch.cuda"


# cpu target: the names with a stand-in in cpu_standins.
CPU_STANDINS: tuple[CudaRow, ...] = (
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
    CudaRow("memory_cached", MOD, "process RSS"),
    CudaRow("max_memory_cached", MOD, "process peak RSS"),
    CudaRow("reset_peak_memory_stats", MOD, "later peaks count from the RSS at reset"),
    CudaRow("reset_max_memory_allocated", MOD, "later peaks count from the RSS at reset"),
    CudaRow("reset_max_memory_cached", MOD, "later peaks count from the RSS at reset"),
    CudaRow("reset_accumulated_memory_stats", NOOP, "RSS-based stats accumulate nothing"),
    CudaRow("memory_stats", MOD, "three RSS-based keys only"),
    CudaRow("memory_summary", MOD, "a table of process RSS and host memory"),
    CudaRow("memory_snapshot", MOD, "no caching allocator: no segments"),
    CudaRow("mem_get_info", MOD, "host MemAvailable and total"),
    CudaRow("empty_cache", NOOP, "no caching allocator on the CPU"),
    CudaRow("set_per_process_memory_fraction", NOOP, "recorded (get_per_process_memory_fraction answers it), not enforced"),
    CudaRow("get_per_process_memory_fraction", MOD, "the fraction last set, 1.0 by default"),
    CudaRow("caching_allocator_alloc", MOD, "host bytes kept alive until caching_allocator_delete"),
    CudaRow("caching_allocator_delete", MOD, "frees a block from caching_allocator_alloc"),
    CudaRow("utilization", MOD, "host CPU load (1-minute average) in percent of the cores"),
    CudaRow("list_gpu_processes", MOD, "names this process only"),
    CudaRow("manual_seed"),
    CudaRow("manual_seed_all"),
    CudaRow("seed"),
    CudaRow("seed_all"),
    CudaRow("initial_seed"),
    CudaRow("get_rng_state", MOD, "the CPU generator's state"),
    CudaRow("set_rng_state", MOD, "the CPU generator's state"),
    CudaRow("get_rng_state_all", MOD, "a list of one: the CPU generator's state"),
    CudaRow("set_rng_state_all", MOD, "sets the CPU generator from the first state"),
    CudaRow("Stream", MOD, "one in-order host stream; every query is complete"),
    CudaRow("Event", MOD, "host-clock timing"),
    CudaRow("StreamContext", NOOP, "CPU work runs in order"),
    CudaRow("current_stream", MOD, "the one host stream"),
    CudaRow("default_stream", MOD, "the one host stream"),
    CudaRow("set_stream", NOOP, "one host stream"),
    CudaRow("stream", NOOP, "CPU work runs in order"),
    CudaRow("device", NOOP, "one CPU device"),
    CudaRow("device_of", NOOP, "one CPU device"),
    CudaRow("is_initialized", MOD, "always True"),
    CudaRow("init", NOOP, "nothing to initialise"),
    CudaRow("ipc_collect", NOOP, "nothing to collect"),
    CudaRow("is_current_stream_capturing", MOD, "always False: no graph capture on the CPU"),
    CudaRow("CUDAGraph", MOD, "no graph capture on the CPU: a one-line error naming the API"),
    CudaRow("graph", MOD, "no graph capture on the CPU: a one-line error naming the API"),
    CudaRow("make_graphed_callables", MOD, "callables returned unchanged: they run eagerly, same results"),
    CudaRow("_record_memory_history", NOOP, "the host allocator keeps no history", "torch.cuda.memory"),
    CudaRow("_snapshot", MOD, "an empty snapshot: no device segments", "torch.cuda.memory"),
    CudaRow("_dump_snapshot", MOD, "pickles the empty snapshot", "torch.cuda.memory"),
)
# Names left exactly as torch has them on every target.
LEFT_ALONE: frozenset[str] = frozenset({
    "is_available",  # rules/availability.py
    "CudaError", "DeferredCudaCallError", "OutOfMemoryError", "AcceleratorError",  # `except` needs real classes
    "has_half", "has_magma", "default_generators", "cudaStatus",  # constants
})
# Submodules whose functions are the same objects as torch.cuda's: the cpu rows cover them there too.
SUBMODULES = ("memory", "random", "streams", "graphs")


def cuda_names() -> list[str]:
    """The public torch.cuda names this torch has (``__all__``), minus those left alone."""
    names = getattr(torch.cuda, "__all__", None) or [n for n in vars(torch.cuda) if not n.startswith("_")]
    return [n for n in names if n not in LEFT_ALONE and hasattr(torch.cuda, n)]


def _is_legacy_type(name: str) -> bool:
    obj = getattr(torch.cuda, name, None)
    return inspect.isclass(obj) and (name.endswith("Tensor") or name.endswith("Storage")) and name[:1].isupper()


def target_name(target: Target, name: str, names: set[str] | None = None) -> str | None:
    """The name in the target's module (or among ``names``, a release's surface): the same, or with
    CUDA/cuda spelled as the target."""
    module = target.module
    if module is None and names is None:
        return None
    for candidate in (name, name.replace("CUDA", target.type.upper()), name.replace("cuda", target.type)):
        if names is not None and candidate in names:
            return candidate
        if names is None and (candidate in vars(module) or hasattr(module, candidate)):
            return candidate
    return None


def release_surface(target: Target) -> Surface | None:
    """The API surface of the target's torch_npu release, if the kit has data for it (npu only)."""
    version = npu.installed_torch_npu_version() if target.type == "npu" else None
    if not version:
        return None
    try:
        return load_surface(version)
    except KernelListError:
        return None


def _submodule_names(sub: str, surface: Surface | None, target: Target) -> dict[str, str]:
    """torch.cuda.<sub> function/class names -> the name in the target's <sub>, where it has one."""
    cuda_sub = getattr(torch.cuda, sub, None)
    if not isinstance(cuda_sub, types.ModuleType):
        return {}
    wanted = {n for n in getattr(cuda_sub, "__all__", None) or vars(cuda_sub) if not n.startswith("_")}
    wanted |= {path.rsplit(".", 1)[1] for path in TOOL_PATHS if path.startswith(f"torch_npu.npu.{sub}._")}
    if surface is not None:
        found = surface.module(f"torch_npu.npu.{sub}")
        have = found.names if found is not None else set()
    else:
        module = getattr(target.module, sub, None) if target.module is not None else None
        have = set(vars(module)) if isinstance(module, types.ModuleType) else set()
    out = {}
    for name in sorted(wanted):
        value = getattr(cuda_sub, name, None)
        if value is None or isinstance(value, types.ModuleType) or not callable(value):
            continue
        for candidate in (name, name.replace("CUDA", target.type.upper())):
            if candidate in have:
                out[name] = candidate
                break
    return out


def _to_target_sub(sub: str, found: str):  # type: ignore[no-untyped-def]
    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        module = getattr(ctx.target.module, sub, None) if ctx.target.module is not None else None
        if not hasattr(module, found):
            return translating(f"torch.cuda.{sub}.{rule.attr}", ctx.target.type, original)
        return _counted(ctx, rule, getattr(module, found), f"torch.cuda.{sub}.{rule.attr}")

    return make


def submodule_rules(target: Target, surface: Surface | None) -> list[Rule]:
    """Rows for torch.cuda.<sub>.X -> torch.<target>.<sub>.X (npu: the names the release has)."""
    rules = []
    for sub in SUBMODULES:
        for name, found in _submodule_names(sub, surface, target).items():
            rules.append(Rule(f"cuda.{sub}.{name}", f"torch.cuda.{sub}", name, _to_target_sub(sub, found), M,
                              f"-> torch.{target.type}.{sub}.{found}", check_signature=False))
    return rules


def _counted(ctx: Context, rule: Rule, fn: Any, api: str) -> Any:
    if inspect.isclass(fn) or isinstance(fn, types.ModuleType) or not callable(fn):
        return fn  # classes and modules are aliased, so isinstance and subclassing work
    return replace_with(lambda _ctx: fn, api)(ctx, rule, None)


def translating(api: str, target_type: str, original: Any) -> Any:
    """``original``, with any failure turned into a one-line error naming ``api``."""
    fix = "remove the call, guard it, or run on a device that has it"

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except NpuCompatError:
            raise
        except Exception:
            raise MissingApiError(f"{api} has no equivalent on the {target_type} target", fix) from None

    if inspect.isclass(original):
        return proxy_class(original.__name__, call, original)
    return functools.wraps(original)(call)


def _translate_rule(name: str, owner: str, target_type: str) -> Rule:
    api = f"{owner}.{name}"
    return Rule(f"cuda.missing.{name}", owner, name, lambda ctx, rule, original: translating(api, target_type, original),
                Category.MODIFIED, f"no {target_type} equivalent: kept as torch has it, a call that needs CUDA fails with "
                "a one-line error naming the API", check_signature=False)


def _legacy_type(ctx: Context, rule: Rule, original: Any) -> Any:
    """``torch.cuda.FloatTensor(...)`` -> a float32 tensor on the target; isinstance by dtype and device."""
    name = rule.attr
    if name.endswith("Storage"):
        host = getattr(torch, name, MISSING)  # torch.FloatStorage: the host typed storage
        return host
    dtype = original.dtype if hasattr(original, "dtype") else getattr(torch, name.replace("Tensor", "Storage")).dtype
    hit, key, cat, target = ctx.report.hit, rule.key, rule.category.value, ctx.target
    device_type = target.type

    def construct(*args: Any, **kwargs: Any) -> torch.Tensor:
        hit(key, cat, f"torch.cuda.{name}", f"{str(dtype).replace('torch.', '')} on {device_type}", depth=3)
        return torch.empty(0, dtype=dtype, device=target.device()).new(*args, **kwargs)

    def check(obj: Any) -> bool:
        return isinstance(obj, torch.Tensor) and obj.dtype == dtype and obj.device.type == device_type

    return proxy_class(name, construct, torch.Tensor, check, f"torch.cuda.{name} on the {device_type} target")


def _cpu_standin(name: str):  # type: ignore[no-untyped-def]
    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        return _counted(ctx, rule, getattr(cpu_standins, name), f"{rule.owner}.{name}")

    return make


def _to_target(name: str):  # type: ignore[no-untyped-def]
    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        found = target_name(ctx.target, name)
        if found is None:
            return translating(f"torch.cuda.{name}", ctx.target.type, original)
        return _counted(ctx, rule, getattr(ctx.target.module, found), f"torch.cuda.{name}")

    return make


def _cpu_rules(names: list[str]) -> list[Rule]:
    rules: list[Rule] = []
    covered: set[str] = set()
    for row in CPU_STANDINS:
        covered.add(row.name)
        rules.append(Rule(f"cuda.{row.name}" if row.owner == "torch.cuda" else f"cuda.{row.owner[11:]}.{row.name}",
                          row.owner, row.name, _cpu_standin(row.name), row.cpu_category, row.cpu_note))
        if row.owner != "torch.cuda":
            continue
        original = getattr(torch.cuda, row.name, None)
        for sub in SUBMODULES:
            module = getattr(torch.cuda, sub, None)
            if module is not None and original is not None and vars(module).get(row.name) is original:
                rules.append(Rule(f"cuda.{sub}.{row.name}", f"torch.cuda.{sub}", row.name, _cpu_standin(row.name),
                                  row.cpu_category, row.cpu_note))
    for name in names:
        if name in covered or isinstance(getattr(torch.cuda, name), types.ModuleType):
            continue
        if _is_legacy_type(name):
            note = ("the host typed storage" if name.endswith("Storage")
                    else "a tensor of this dtype on the cpu target; isinstance checks dtype and device")
            rules.append(Rule(f"cuda.{name}", "torch.cuda", name, _legacy_type, MOD, note, check_signature=False))
        else:
            rules.append(_translate_rule(name, "torch.cuda", "cpu"))
    return rules


def cuda_module_rules(target: Target) -> list[Rule]:
    if target.type == "cuda":
        return []
    names = cuda_names()
    if target.type == "cpu":
        return _cpu_rules(names)
    surface = release_surface(target)
    available = surface.npu_names() if surface is not None else None
    rules = submodule_rules(target, surface) if target.type == "npu" else []
    for name in names:
        found = target_name(target, name, available)
        if found is None and _is_legacy_type(name) and name.endswith("Tensor"):
            rules.append(Rule(f"cuda.{name}", "torch.cuda", name, _legacy_type, MOD,
                              f"a tensor of this dtype on {target.type}", check_signature=False))
        elif found is None:
            if not isinstance(getattr(torch.cuda, name), types.ModuleType):
                rules.append(_translate_rule(name, "torch.cuda", target.type))
        else:
            note = f"-> torch.{target.type}.{found}"
            rules.append(Rule(f"cuda.{name}", "torch.cuda", name, _to_target(name), M, note, check_signature=False))
    return rules
