"""The boxed fallback of the simulated npu (a TEST DOUBLE of the Ascend stack) on PrivateUse1.

Device tensors are plain ``torch.Tensor``s of a C++ PrivateUse1 backend (``csrc/native_hooks.cpp``)
whose memory is host memory. The C++ side owns allocation, the view family, ``resize_`` and ``set_``.
Every other aten op that reaches the PrivateUse1 key comes here, which is where torch_npu's own kernels
would be: after autograd, after CompositeImplicitAutograd decompositions, and after a
CompositeExplicitAutograd kernel unless the release lists the op itself (then :func:`register_kernels`
puts it here first, as torch_npu's kernel would take precedence). In order:

1. device checks as PyTorch's own: two device indices, or a host tensor (other than a 0-dim scalar)
   mixed with device tensors, raise "Expected all tensors to be on the same device"; host index
   tensors of the indexing ops are allowed, host values and a host ``self`` are not;
2. the release's kernel list decides: a listed op runs (after the documented dtype/argument limits);
   a missing op runs on the CPU with torch_npu's warning, or raises with ``TORCH_NPU_FALLBACK_CPU_DISABLE=1``;
3. the op runs on host views aliasing the device memory (``npu_sim::host_view``): in-place and ``out=``
   writes land in device memory, fresh results become device tensors without a copy
   (``npu_sim::adopt``), views stay views of their device base (``npu_sim::alias_like``);
4. ops, syncs (:func:`npu_compat.host_syncs.sync_kind`) and copies are counted; an open graph capture
   (:mod:`npu_compat.sim.graphs`) records the call.
"""
from __future__ import annotations

import functools
import os
import sys
import warnings
from collections import Counter
from typing import Any

import torch

from npu_compat.host_syncs import sync_kind
from npu_compat.simulation import device_fallback
from npu_compat.sim import graphs
from npu_compat.sim.counters import COUNTERS
from npu_compat.sim.kernel_rules import MISSING, KernelRules, bind

DISABLE_ENV = "TORCH_NPU_FALLBACK_CPU_DISABLE"
INDEX_OPS = frozenset({"index", "index_put", "index_put_", "_index_put_impl_"})  # their `indices` may stay on the host
SAME_DEVICE = "Expected all tensors to be on the same device, but found at least two devices"


class DeviceState:
    """What the simulated device knows: its release's kernels, device count, default generators."""

    def __init__(self, rules: KernelRules, device_count: int) -> None:
        self.rules = rules
        self.device_count = device_count
        self.generators: list[torch.Generator] = []  # the C++ default generator of each index, set by install
        self.fallbacks: Counter = Counter()  # torch_npu CPU fallbacks that fired, by op
        self.warned: set[str] = set()

    def label(self) -> str:
        return f"simulated npu (torch_npu {self.rules.version})"

    @property
    def current(self) -> int:
        """This thread's current device index (the C++ device guard's)."""
        return int(CURRENT_DEVICE())

    def device(self, spec: Any) -> torch.device:
        dev = torch.device(spec)
        index = self.current if dev.index is None else dev.index
        if not 0 <= index < self.device_count:
            raise RuntimeError(f"Invalid device ordinal {index}: {self.label()} has {self.device_count} devices "
                               "(NPU_COMPAT_SIM_DEVICES sets how many)")
        return torch.device("npu", index)


STATE: DeviceState | None = None
CURRENT_DEVICE: Any = lambda: 0  # the native library's npu_sim_current_device, set by install


def _state() -> DeviceState:
    if STATE is None:
        raise RuntimeError("the simulated npu is not installed")
    return STATE


class _Plan:
    """What the fallback needs to know about one op overload, computed once."""

    __slots__ = ("name", "base", "returns", "mutable", "generator_at", "random_packet", "written", "names")

    def __init__(self, op: Any) -> None:
        schema = op._schema
        self.name = op.name()
        self.base = schema.name.split("::", 1)[1]
        self.mutable = schema.is_mutable
        arguments = list(schema.arguments)
        names = self.names = [a.name for a in arguments]
        self.generator_at = names.index("generator") if "generator" in names else None
        self.random_packet = self.generator_at is None and _packet_is_random(op)
        # for each return: ("write" | "view", argument position) when it aliases an argument, else None
        self.returns: list[tuple[str, int] | None] = []
        for ret in schema.returns:
            alias = ret.alias_info
            if alias is None:
                self.returns.append(None)
                continue
            position = next((i for i, a in enumerate(arguments) if a.alias_info is not None
                             and set(a.alias_info.before_set) & set(alias.before_set)), None)
            self.returns.append(("write" if alias.is_write else "view", position) if position is not None else None)
        self.written = [i for i, a in enumerate(arguments) if a.alias_info is not None and a.alias_info.is_write]


_PLANS: dict[Any, _Plan] = {}


def _packet_is_random(op: Any) -> bool:
    """Another overload of the op takes a generator (``randn`` has ``randn.generator``)."""
    packet = op._overloadpacket
    return any(a.name == "generator" for o in packet.overloads() for a in getattr(packet, o)._schema.arguments)


def _plan(op: Any) -> _Plan:
    plan = _PLANS.get(op)
    if plan is None:
        plan = _PLANS[op] = _Plan(op)
    return plan


def _check_devices(plan: _Plan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The call's device index; raises as PyTorch's device checks do on a cross-device or host/device mix."""
    index: int | None = None
    host: torch.Tensor | None = None
    for position, value in enumerate((*args, *kwargs.values())):
        items = value if isinstance(value, (list, tuple)) else (value,)
        for item in items:
            if not isinstance(item, torch.Tensor):
                continue
            device = item.device
            if device.type == "npu":
                if index is None:
                    index = device.index
                elif device.index != index:
                    raise RuntimeError(f"{SAME_DEVICE}, npu:{index} and npu:{device.index}! ({plan.name} on the "
                                       f"{_state().label()})")
            elif host is None and item.dim() > 0 and not (plan.base in INDEX_OPS and position == 1):
                host = item
    device_kw = kwargs.get("device")
    if index is None and device_kw is not None and torch.device(device_kw).type == "npu":
        index = _state().device(device_kw).index
    if index is not None and host is not None:
        raise RuntimeError(f"{SAME_DEVICE}, npu:{index} and {host.device}! ({plan.name} on the {_state().label()})")
    return index


def _caller_depth() -> int:
    """Frames from here to the first frame outside torch and the simulator, for a warning's stacklevel."""
    frame, depth = sys._getframe(1), 1
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        if "/torch/" not in name and "/npu_compat/sim/" not in name:
            return depth
        frame, depth = frame.f_back, depth + 1
    return 1


def _missing(name: str) -> None:
    state = _state()
    if os.environ.get(DISABLE_ENV) == "1":
        raise RuntimeError(f"The operator '{name}' is not currently supported on the NPU backend and "
                           f"{DISABLE_ENV}=1 forbids the CPU fallback ({state.label()}: not in its kernel list)")
    if name not in state.warned:
        state.warned.add(name)
        warnings.warn(f"The operator '{name}' is not currently supported on the NPU backend and will fall back to "
                      f"run on the CPU. This may have performance implications. ({state.label()})",
                      stacklevel=_caller_depth())
    state.fallbacks[name] += 1
    _report_fallback(name)


def _report_fallback(name: str) -> None:
    """Put torch_npu's CPU fallback in the migration report while a shim session listens
    (:mod:`npu_compat.simulation`, where the kit and the simulator meet)."""
    device_fallback(name)


_HOST_VIEW: Any = None
_ADOPT: Any = None
_ALIAS_LIKE: Any = None


def bind_native_ops() -> None:
    """Look up the ``npu_sim::`` ops once the native library is loaded."""
    global _HOST_VIEW, _ADOPT, _ALIAS_LIKE
    _HOST_VIEW = torch.ops.npu_sim.host_view.default
    _ADOPT = torch.ops.npu_sim.adopt.default
    _ALIAS_LIKE = torch.ops.npu_sim.alias_like.default


def host_view(tensor: torch.Tensor) -> torch.Tensor:
    """A cpu tensor over a device tensor's memory (same bytes, same geometry); host tensors as they are."""
    return _HOST_VIEW(tensor) if tensor.device.type == "npu" else tensor


def _to_host(value: Any, views: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    if isinstance(value, torch.Tensor):
        if value.device.type == "npu":
            host = _HOST_VIEW(value)
            views.append((value, host))
            return host
        return value
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        return type(value)(_to_host(v, views) for v in value)
    return value


def _adopt(value: Any, index: int) -> Any:
    if isinstance(value, torch.Tensor):
        return _ADOPT(value, index) if value.device.type == "cpu" else value
    if isinstance(value, (list, tuple)):
        return type(value)(_adopt(v, index) for v in value)
    return value


def _write_back(views: list[tuple[torch.Tensor, torch.Tensor]], index: int) -> None:
    """An ``out=`` or in-place op that resized or restrided its host view: the device tensor follows."""
    for device, host in views:
        if host.untyped_storage().data_ptr() != device.untyped_storage().data_ptr():
            device.set_(_ADOPT(host, index))
        elif host.shape != device.shape or host.stride() != device.stride() \
                or host.storage_offset() != device.storage_offset():
            device.set_(device.untyped_storage(), host.storage_offset(), host.shape, host.stride())


def _run_random(plan: _Plan, index: int, args: list[Any], kwargs: dict[str, Any], op: Any) -> Any:
    """A random op on the host with a host generator carrying the device generator's state, written back."""
    state = _state()
    if plan.generator_at is not None:
        in_kwargs = plan.generator_at >= len(args)
        given = kwargs.get("generator") if in_kwargs else args[plan.generator_at]
        device_gen = given if given is not None and given.device.type == "npu" else state.generators[index]
        if given is not None and given.device.type != "npu":
            return op(*args, **kwargs)
        host = torch.Generator()
        host.set_state(device_gen.get_state())
        if in_kwargs:
            kwargs["generator"] = host
        else:
            args[plan.generator_at] = host
        out = op(*args, **kwargs)
        device_gen.set_state(host.get_state())
        return out
    default = torch.random.default_generator  # an overload without a generator draws from the default one
    saved = default.get_state()
    default.set_state(state.generators[index].get_state())
    try:
        return op(*args, **kwargs)
    finally:
        state.generators[index].set_state(default.get_state())
        default.set_state(saved)


def run(op: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one aten op of the simulated npu (the boxed fallback, and the kernels of listed composites)."""
    state = _state()
    plan = _plan(op)
    index = _check_devices(plan, args, kwargs)
    missing = state.rules.status(op) == MISSING
    if missing:
        _missing(plan.name)
    else:
        limit = state.rules.limit(op, bind(op, args, kwargs))
        if limit is not None:
            raise RuntimeError(f"{plan.name}: {limit.text} on the NPU (torch_npu {state.rules.version} limits table; "
                               f"{state.label()})")
    graphs.check(plan.name, plan.base, args)
    views: list[tuple[torch.Tensor, torch.Tensor]] = []
    host_args = [_to_host(a, views) for a in args]
    host_kwargs = {k: _to_host(v, views) for k, v in kwargs.items()}
    if index is not None and kwargs.get("device") is not None:
        host_kwargs["device"] = torch.device("cpu")
    if index is None:
        index = state.current
    if plan.generator_at is not None or plan.random_packet:
        out = _run_random(plan, index, host_args, host_kwargs, op)
    else:
        out = op(*host_args, **host_kwargs)
    if plan.mutable:
        _write_back(views, index)
    _count(plan, args, kwargs, out, missing)
    result = _device_results(plan, args, kwargs, out, index)
    graphs.record(op, args, kwargs, result)
    return result


def _device_results(plan: _Plan, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, index: int) -> Any:
    if not plan.returns:
        return None
    outs = out if len(plan.returns) > 1 else (out,)
    results = []
    for value, how in zip(outs, plan.returns):
        if how is None:
            results.append(_adopt(value, index))
            continue
        kind, position = how
        argument = args[position] if position < len(args) else kwargs.get(plan.names[position])
        if kind == "write":
            results.append(argument)
        elif isinstance(argument, torch.Tensor) and argument.device.type == "npu":
            results.append(_ALIAS_LIKE(argument, value))
        else:
            results.append(_adopt(value, index))
    return tuple(results) if len(plan.returns) > 1 else results[0]


def _count(plan: _Plan, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, missing: bool) -> None:
    COUNTERS.op(plan.name, fallback=missing)
    kind = sync_kind(plan.base, args)
    if kind is not None:
        COUNTERS.sync(kind)
    if missing:  # torch_npu's CPU fallback copies every device argument over and the results back
        for value in (*args, *kwargs.values()):
            for item in (value if isinstance(value, (list, tuple)) else (value,)):
                if isinstance(item, torch.Tensor) and item.device.type == "npu":
                    COUNTERS.copy("d2h")
        if plan.mutable:  # written back into the device arguments (in place, out=)
            for position in plan.written:
                COUNTERS.copy("h2d")
        else:
            for item in (out if isinstance(out, (list, tuple)) else (out,)):
                if isinstance(item, torch.Tensor):
                    COUNTERS.copy("h2d")


# ---- copies -------------------------------------------------------------------------------
def _count_copy(src: torch.device, dst: torch.device) -> None:
    if src.type == "npu" and dst.type == "npu":
        if src != dst:
            COUNTERS.copy("d2d")
    elif src.type == "npu":
        COUNTERS.copy("d2h")
    elif dst.type == "npu":
        COUNTERS.copy("h2d")


def copy_from(src: torch.Tensor, dst: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
    """``aten::_copy_from``: every copy into, out of or between devices (``copy_`` routes here)."""
    graphs.check_copy(src.device, dst.device)
    _count_copy(src.device, dst.device)
    host_view(dst).copy_(host_view(src))
    graphs.record(torch.ops.aten._copy_from.default, (src, dst), {}, dst)
    return dst


def copy_from_and_resize(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """``aten::_copy_from_and_resize``: ``dst`` takes ``src``'s shape, then its values."""
    if dst.shape != src.shape:
        dst.resize_(src.shape)
    return copy_from(src, dst)


def register_kernels(library: Any) -> int:
    """Kernels on PrivateUse1 in Python: the copies, and every op of the release's kernel list that torch
    would otherwise decompose with a CompositeExplicitAutograd kernel (torch_npu's kernel takes precedence)."""
    library.impl("_copy_from", copy_from, "PrivateUse1")
    library.impl("_copy_from_and_resize", copy_from_and_resize, "PrivateUse1")
    count = 2
    for name in sorted(_state().rules.kernels.overloads):
        op = _resolve(name)
        if op is None or not _overridable(op):
            continue
        library.impl(name, functools.partial(run, op), "PrivateUse1")
        count += 1
    return count


KEEP_COMPOSITE = frozenset({"copy_", "_to_copy", "to", "lift_fresh", "lift", "detach", "alias", "resize_as_",
                            "clone", "contiguous", "empty_like", "new_empty", "new_empty_strided"})


def _resolve(name: str) -> Any:
    base, _, overload = name.partition(".")
    packet = getattr(torch.ops.aten, base, None)
    if packet is None:
        return None
    return getattr(packet, overload or "default", None)


def _has(qualified: str, key: str) -> bool:
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(qualified, key)
    except RuntimeError:
        return False


def _overridable(op: Any) -> bool:
    """A listed op whose CompositeExplicitAutograd kernel would otherwise run on the device, and which is
    neither a view nor a copy (those keep torch's device-generic code)."""
    qualified = op.name()
    base = op._schema.name.split("::", 1)[1]
    if base in KEEP_COMPOSITE or _has(qualified, "PrivateUse1"):
        return False
    if not (_has(qualified, "CompositeExplicitAutograd") or _has(qualified, "CompositeExplicitAutogradNonFunctional")):
        return False
    return all(r.alias_info is None or r.alias_info.is_write for r in op._schema.returns)


def fallback(op: Any, *args: Any, **kwargs: Any) -> Any:
    """The boxed fallback on PrivateUse1."""
    return run(op, *args, **kwargs)


__all__ = ["DeviceState", "STATE", "fallback", "run", "register_kernels", "copy_from", "host_view", "DISABLE_ENV"]
