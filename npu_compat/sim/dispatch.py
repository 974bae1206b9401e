"""The dispatcher of the simulated npu (a TEST DOUBLE of the Ascend stack).

Every aten op that reaches the device comes here, from the device tensors' ``__torch_dispatch__``
or, for factories (``torch.empty(..., device="npu:1")``), from a boxed fallback on PrivateUse1.
In order:

1. a kernel someone registered on PrivateUse1 (``torch.library``: the kit's dispatcher-level
   fallbacks) runs instead, as it would over torch_npu's own;
2. device checks as on hardware: two device indices, or a host tensor (other than a 0-dim
   scalar) mixed with device tensors, raise "Expected all tensors to be on the same device";
3. copies are counted (h2d, d2h, d2d) and done on the host data;
4. the release's kernel list decides: a listed op runs (after the documented dtype/argument
   limits), a CompositeExplicitAutograd op runs (torch decomposes it; here it runs in one step on
   the host data, so a composite that calls a missing op is not caught), and a missing op runs on
   the CPU with torch_npu's warning, or raises with ``TORCH_NPU_FALLBACK_CPU_DISABLE=1``.
"""
from __future__ import annotations

import os
import warnings
from collections import Counter
from typing import Any

import torch

from npu_compat.sim.counters import COUNTERS
from npu_compat.sim.kernel_rules import IMPLICIT, MISSING, KernelRules, bind
from npu_compat.sim.tensor import SimulatedNpuTensor, host_of, on_device, set_dispatcher, tensors_in

DISABLE_ENV = "TORCH_NPU_FALLBACK_CPU_DISABLE"
COPY_OPS = frozenset({"aten::copy_", "aten::_to_copy", "aten::_copy_from", "aten::_copy_from_and_resize"})
# ops whose index arguments may stay on the host, as CUDA and torch_npu allow, and
# metadata queries that compare a host and a device tensor without touching data
MIXED_OK = COPY_OPS | frozenset({"aten::index.Tensor", "aten::index_put_", "aten::index_put", "aten::_index_put_impl_",
                                 "aten::_has_compatible_shallow_copy_type", "aten::is_same_size",
                                 "aten::_has_same_storage_numel", "aten::is_set_to"})
SYNC_OPS = {"_local_scalar_dense": "item", "nonzero": "nonzero", "_unique2": "unique", "unique_dim": "unique",
            "unique_consecutive": "unique", "masked_select": "masked_select", "equal": "equal",
            "is_nonzero": "is_nonzero", "repeat_interleave": "repeat_interleave"}
PU1 = torch._C.DispatchKeySet(torch._C.DispatchKey.PrivateUse1)


class DeviceState:
    """What the simulated device knows: its release's kernels, device count, current index, RNG."""

    def __init__(self, rules: KernelRules, device_count: int) -> None:
        self.rules = rules
        self.device_count = device_count
        self.current = 0
        self.generators = [torch.Generator() for _ in range(device_count)]
        self.fallbacks: Counter = Counter()  # torch_npu CPU fallbacks that fired, by op
        self.warned: set[str] = set()

    def label(self) -> str:
        return f"simulated npu (torch_npu {self.rules.version})"

    def device(self, spec: Any) -> torch.device:
        dev = torch.device(spec)
        index = self.current if dev.index is None else dev.index
        if not 0 <= index < self.device_count:
            raise RuntimeError(f"Invalid device ordinal {index}: {self.label()} has {self.device_count} devices "
                               "(NPU_COMPAT_SIM_DEVICES sets how many)")
        return torch.device("npu", index)


STATE: DeviceState | None = None


def _state() -> DeviceState:
    assert STATE is not None, "the simulated npu is not installed"
    return STATE


def _has_user_kernel(name: str) -> bool:
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(name, "PrivateUse1")
    except RuntimeError:
        return False


def dispatch(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Entry from ``SimulatedNpuTensor.__torch_dispatch__``."""
    if _has_user_kernel(func.name()):
        return func.redispatch(PU1, *args, **kwargs)
    return run(func, args, kwargs)


set_dispatcher(dispatch)  # SimulatedNpuTensor.__torch_dispatch__ calls it


def factory_fallback(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Boxed fallback on PrivateUse1: ops that name the device but hold no device tensor."""
    return run(func, args, kwargs)


FACTORY_OPS = ("arange", "zeros", "ones", "full", "linspace", "logspace", "eye", "randn", "rand", "randint",
               "randperm", "scalar_tensor", "empty_permuted", "tril_indices", "triu_indices")


def register_factories(library: Any) -> int:
    """Factories whose CompositeExplicitAutograd kernel would fill an empty device tensor through
    ``out=`` (a shape change the wrapper cannot follow) run in one step instead."""
    count = 0
    # copies reach the backend from C++ with Python dispatch excluded (torch.tensor(..., device=)),
    # where a boxed Python fallback cannot run: they get their own kernels
    for qualified in sorted(COPY_OPS):
        library.impl(qualified.split("::", 1)[1], _factory_kernel(_resolve(qualified)), "PrivateUse1")
        count += 1
    for name in FACTORY_OPS:
        packet = getattr(torch.ops.aten, name)
        for overload in packet.overloads():
            op = getattr(packet, overload)
            arguments = {a.name for a in op._schema.arguments}
            if "device" not in arguments or "out" in arguments:
                continue
            library.impl(f"{name}.{overload}" if overload != "default" else name, _factory_kernel(op), "PrivateUse1")
            count += 1
    return count


def _resolve(qualified: str) -> Any:
    name, _, overload = qualified.split("::", 1)[1].partition(".")
    return getattr(getattr(torch.ops.aten, name), overload or "default")


def _factory_kernel(op: Any) -> Any:
    def kernel(*args: Any, **kwargs: Any) -> Any:
        return run(op, args, kwargs)

    return kernel


def _devices(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.device | None:
    """The call's device; raises as hardware does on a cross-device or host/device mix."""
    name = func.name()
    tensors = tensors_in((*args, *kwargs.values()))
    npu = {t.device for t in tensors if isinstance(t, SimulatedNpuTensor)}
    host = [t for t in tensors if not isinstance(t, SimulatedNpuTensor) and t.device.type == "cpu" and t.dim() > 0]
    if name not in COPY_OPS and len(npu) > 1:
        a, b = sorted(npu, key=str)[:2]
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, {a} and "
                           f"{b}! ({name} on the {_state().label()})")
    if name not in MIXED_OK and npu and host:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{next(iter(npu))} and cpu! ({name} on the {_state().label()})")
    if kwargs.get("device") is not None:
        dev = torch.device(kwargs["device"])
        return _state().device(dev) if dev.type == "npu" else None
    return next(iter(npu)) if npu else None


def _copy(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    name = func.name()
    if name == "aten::_to_copy":
        src, target = args[0], kwargs.get("device")
        dst = (_state().device(target) if torch.device(target).type == "npu" else torch.device(target)) \
            if target is not None else src.device
        _count_copy(src.device, dst)
        out = func(host_of(src), *args[1:], **{**kwargs, "device": torch.device("cpu")} if target is not None
                   else kwargs)
        return on_device(out, dst) if dst.type == "npu" else out
    if name == "aten::copy_":
        dst, src = args[0], args[1]
        _count_copy(src.device, dst.device)
        host_of(dst).copy_(host_of(src), *args[2:], **kwargs)
        return dst
    src, dst = args[0], args[1]  # _copy_from(self, dst), _copy_from_and_resize(self, dst)
    _count_copy(src.device, dst.device)
    host_of(dst).copy_(host_of(src))
    return dst


def _count_copy(src: torch.device, dst: torch.device) -> None:
    if src.type == "npu" and dst.type == "npu":
        if src != dst:
            COUNTERS.copy("d2d")
    elif src.type == "npu":
        COUNTERS.copy("d2h")
    elif dst.type == "npu":
        COUNTERS.copy("h2d")


def _host_kwargs(func: Any, kwargs: dict[str, Any], device: torch.device | None) -> dict[str, Any]:
    out = {k: host_of(v) for k, v in kwargs.items()}
    if out.get("device") is not None and torch.device(out["device"]).type == "npu":
        out["device"] = torch.device("cpu")
    if device is not None and any(a.name == "generator" for a in func._schema.arguments) and out.get("generator") is None:
        out["generator"] = _state().generators[device.index or 0]
    return out


def _missing(func: Any, device: torch.device | None) -> None:
    state, name = _state(), func.name()
    if os.environ.get(DISABLE_ENV) == "1":
        raise RuntimeError(f"The operator '{name}' is not currently supported on the NPU backend and "
                           f"{DISABLE_ENV}=1 forbids the CPU fallback ({state.label()}: not in its kernel list)")
    if name not in state.warned:
        state.warned.add(name)
        from npu_compat.report import user_depth

        warnings.warn(f"The operator '{name}' is not currently supported on the NPU backend and will fall back to "
                      f"run on the CPU. This may have performance implications. ({state.label()})",
                      stacklevel=1 + user_depth(1))
    state.fallbacks[name] += 1
    _report_fallback(name)


def _report_fallback(name: str) -> None:
    """Put torch_npu's CPU fallback in the shim's report, when a shim session is running."""
    from npu_compat.simulation import device_fallback

    device_fallback(name)


def _written(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The arguments a mutating op wrote to, in the order of its returns."""
    written = []
    for i, argument in enumerate(func._schema.arguments):
        if argument.alias_info is not None and argument.alias_info.is_write:
            written.append(args[i] if i < len(args) else kwargs.get(argument.name))
    returns = len(func._schema.returns)
    if returns == 0:
        return None
    return written[0] if returns == 1 else tuple(written[:returns])


def _sync_metadata(value: Any, device: torch.device) -> None:
    """After a metadata-changing in-place op (resize_, unsqueeze_...), refresh the wrapper's shape."""
    for t in (value if isinstance(value, tuple) else (value,)):
        if isinstance(t, SimulatedNpuTensor) and (t.shape != t._host.shape or t.stride() != t._host.stride()):
            host = t._host
            try:  # the wrapper takes the host's new view geometry (squeeze_, unsqueeze_, t_...)
                with torch._C._DisableTorchDispatch():
                    torch.ops.aten.as_strided_.default(t, host.shape, host.stride(), host.storage_offset())
                continue
            except RuntimeError:  # outside the wrapper's storage (a growing resize_)
                pass
            raise NotImplementedError(f"the {_state().label()} cannot change a device tensor's shape in place "
                                      f"({tuple(t.shape)} -> {tuple(t._host.shape)}); this limit is the simulator's")


def run(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    state = _state()
    name = func.name()
    device = _devices(func, args, kwargs)
    if name in COPY_OPS:
        return _copy(func, args, kwargs)
    status = state.rules.status(func)
    if status == IMPLICIT:
        return func.decompose(*args, **kwargs)
    # COMPOSITE: torch's CompositeExplicitAutograd kernel would run it on the device from other ops
    # (views, _to_copy...); the simulator runs it on the host data in one step.
    if status == MISSING:
        _missing(func, device)
    else:
        limit = state.rules.limit(func, bind(func, args, kwargs))
        if limit is not None:
            raise RuntimeError(f"{name}: {limit.text} on the NPU (torch_npu {state.rules.version} limits table; "
                               f"{state.label()})")
    host_args, host_kwargs = host_of(args), _host_kwargs(func, kwargs, device)
    if device is not None and "generator" not in host_kwargs and _is_random(func):
        out = _with_device_rng(device, func, host_args, host_kwargs)
    else:
        out = func(*host_args, **host_kwargs)
    COUNTERS.op(name, fallback=status == MISSING)
    if status == MISSING:  # torch_npu's CPU fallback copies every device argument over and the results back
        for _ in (t for t in tensors_in((*args, *kwargs.values())) if isinstance(t, SimulatedNpuTensor)):
            COUNTERS.copy("d2h")
        if device is not None and not func._schema.is_mutable:
            for _ in tensors_in(out if isinstance(out, (tuple, list)) else (out,)):
                COUNTERS.copy("h2d")
    base = func._schema.name.split("::", 1)[1]
    if base in SYNC_OPS:
        COUNTERS.sync(SYNC_OPS[base])
    if func._schema.is_mutable:
        result = _written(func, args, kwargs)
        if device is not None:
            _sync_metadata(result, device)
        return result
    if device is None:
        return out
    if _is_view(func) and args and isinstance(args[0], torch.Tensor) and not args[0].is_inference():
        with torch.inference_mode(False):  # a view of a normal tensor is normal, also in inference mode
            return on_device(out, device)
    return on_device(out, device)


_RANDOM: dict[str, bool] = {}


def _is_random(func: Any) -> bool:
    """Some overload of the op takes a generator (``randn`` has ``randn.generator``)."""
    name = func._schema.name
    if name not in _RANDOM:
        packet = func._overloadpacket
        _RANDOM[name] = any(a.name == "generator" for o in packet.overloads()
                            for a in getattr(packet, o)._schema.arguments)
    return _RANDOM[name]


def _with_device_rng(device: torch.device, func: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    """Run a random op whose overload takes no generator on the device's RNG, not the host's."""
    host = torch.random.default_generator
    saved = host.get_state()
    host.set_state(_state().generators[device.index or 0].get_state())
    try:
        return func(*args, **kwargs)
    finally:
        _state().generators[device.index or 0].set_state(host.get_state())
        host.set_state(saved)


def _is_view(func: Any) -> bool:
    return any(r.alias_info is not None for r in func._schema.returns)


__all__ = ["DeviceState", "STATE", "dispatch", "factory_fallback", "run", "DISABLE_ENV"]
