"""Device arguments -> the target: torch factories, ``Tensor.new_*``, ``.to``, ``.cuda``,
``torch.load``, default-device contexts and pinned memory.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.rules.device_params import find_device_params
from npu_compat.rules.wrappers import first_arg_device, kwargs_device
from npu_compat.target import Target

M, MOD, NOOP = Category.MATCH, Category.MODIFIED, Category.NOOP

# The torch functions and Tensor methods with a ``device`` argument are found from torch's own
# signatures at apply time (``rules/device_params.py``), not listed here.


def _tensor_cuda(ctx: Context, rule: Rule, original: Any) -> Any:
    mapper, hit, key, cat, default = ctx.mapper, ctx.report.hit, rule.key, rule.category.value, ctx.target.device()
    to = torch._C.TensorBase.to

    def cuda(self: torch.Tensor, device: Any = None, non_blocking: bool = False, memory_format: torch.memory_format = torch.preserve_format) -> torch.Tensor:
        new = default if device is None else mapper.map(device, True)
        hit(key, cat, "cuda" if device is None else device, new)
        return to(self, new, non_blocking=non_blocking, memory_format=memory_format)

    return cuda


def _module_cuda(ctx: Context, rule: Rule, original: Any) -> Any:
    mapper, hit, key, cat, default = ctx.mapper, ctx.report.hit, rule.key, rule.category.value, ctx.target.device()
    to = torch._C.TensorBase.to

    @functools.wraps(original)
    def cuda(self: torch.nn.Module, device: Any = None) -> torch.nn.Module:
        new = default if device is None else mapper.map(device, True)
        hit(key, cat, "cuda" if device is None else device, new)
        return self._apply(lambda t: to(t, new))

    return cuda


def _pin_memory(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    def pin_memory(self: torch.Tensor, device: Any = None) -> torch.Tensor:
        hit(key, cat, "pin_memory()", "unchanged tensor")
        return self

    return pin_memory


def _torch_load(ctx: Context, rule: Rule, original: Any) -> Any:
    mapper, hit, key, cat, target = ctx.mapper, ctx.report.hit, rule.key, rule.category.value, ctx.target

    def cuda_locations_to_target(storage: Any, location: str) -> Any:
        if location.startswith("cuda") and target.type != "cpu":
            return storage.to(device=mapper.map(location))
        return storage  # deserialised storages start on the CPU

    @functools.wraps(original)
    def load(f: Any, map_location: Any = None, *args: Any, **kwargs: Any) -> Any:
        if map_location is None:
            if target.type != "cuda":
                map_location = cuda_locations_to_target
        else:
            new = mapper.map(map_location)
            if new is not map_location:
                hit(key, cat, map_location, new)
                map_location = new
        return original(f, map_location, *args, **kwargs)

    return load


def _storage_cuda(ctx: Context, rule: Rule, original: Any) -> Any:
    """``storage.cuda()`` (typically in a ``map_location`` callable) -> the storage on the target."""
    mapper, hit, key, cat, target = ctx.mapper, ctx.report.hit, rule.key, rule.category.value, ctx.target

    @functools.wraps(original)
    def cuda(self: Any, device: Any = None, non_blocking: bool = False) -> Any:
        new = target.device() if device is None else mapper.map(device, True)
        hit(key, cat, "cuda" if device is None else device, new)
        if self.device == new or (target.type == "cpu" and self.device.type == "cpu"):
            return self
        return self.to(device=new, non_blocking=non_blocking)

    return cuda


def _device_constructors(ctx: Context, rule: Rule, original: Any) -> Any:
    """``with torch.device(d)`` / ``set_default_device(d)`` fill in ``device=`` only for the functions in
    this set, compared by identity with the function torch dispatches. Under the shim the
    dispatched function is the original inside a wrapper, so the set holds both: without that,
    ``with torch.device("meta"): nn.Linear(...)`` would build on the CPU."""
    base = getattr(original, "__wrapped__", original)  # the uncached function, so torch's own cache stays clean
    cache: list[set[Any]] = []

    @functools.wraps(original)
    def _device_constructors() -> set[Any]:
        if not cache:
            found = set(base())
            cache.append(found | {getattr(f, "__wrapped__", f) for f in found})
        return cache[0]

    return _device_constructors


def _lazy_allowed_methods(ctx: Context, rule: Rule, original: Any) -> Any:
    """Uninitialized (lazy) parameters allow only the methods in this list, compared by identity
    with the function torch dispatches, which under the shim is our ``Tensor.to`` / ``Tensor.cuda``.
    The list gets those replacements too, so ``LazyLinear(...).to("cuda")`` works."""
    extra = []
    for method in original:
        current = getattr(torch.Tensor, getattr(method, "__name__", ""), method)
        if current is not method and current not in original:
            extra.append(current)
    return [*original, *extra]


def _record_stream(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    def record_stream(self: torch.Tensor, stream: Any) -> None:
        hit(key, cat, "record_stream(stream)", "nothing to record")

    return record_stream


def _dataloader_init(ctx: Context, rule: Rule, original: Any) -> Any:
    """``pin_memory`` (and ``pin_memory_device``) off, by keyword or in their positional places."""
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    names = list(inspect.signature(original).parameters)[1:]  # after self
    places = {name: names.index(name) for name in ("pin_memory", "pin_memory_device") if name in names}
    off = {"pin_memory": False, "pin_memory_device": ""}

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        for name, place in places.items():
            if len(args) > place:
                if args[place]:
                    args = args[:place] + (off[name],) + args[place + 1:]
                    if name == "pin_memory":
                        hit(key, cat, "pin_memory=True", "pin_memory=False")
            elif kwargs.get(name):
                kwargs[name] = off[name]
                if name == "pin_memory":
                    hit(key, cat, "pin_memory=True", "pin_memory=False")
        original(self, *args, **kwargs)

    return __init__


def _legacy_cuda_dtype(value: Any) -> torch.dtype | None:
    """The dtype of a CUDA legacy type (``"torch.cuda.HalfTensor"``, ``torch.cuda.HalfTensor``), else None."""
    name = value if isinstance(value, str) else getattr(value, "__name__", None) if isinstance(value, type) else None
    if not name:
        return None
    if isinstance(value, str):
        if not name.startswith("torch.cuda."):
            return None
        name = name[len("torch.cuda."):]
    elif not (getattr(value, "is_cuda", False) is True or value is vars(torch.cuda).get(name)):
        return None  # torch's own legacy CUDA types say is_cuda; the shim's stand-ins are torch.cuda's names now
    host = getattr(torch, name, None)
    dtype = getattr(host, "dtype", None)
    return dtype if isinstance(dtype, torch.dtype) else None


def _tensor_type(ctx: Context, rule: Rule, original: Any) -> Any:
    """``x.type("torch.cuda.HalfTensor")`` / ``x.type(torch.cuda.HalfTensor)`` -> that dtype on the target."""
    hit, key, cat, device = ctx.report.hit, rule.key, rule.category.value, ctx.target.device()

    def type(self: torch.Tensor, dtype: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:
        wanted = None if dtype is None else _legacy_cuda_dtype(dtype)
        if wanted is None:
            if dtype is None and not kwargs and not non_blocking:
                return original(self)
            return original(self, dtype, non_blocking, **kwargs)
        hit(key, cat, dtype if isinstance(dtype, str) else f"torch.cuda.{dtype.__name__}",
            f"{str(wanted).replace('torch.', '')} on {device}")
        return self.to(device=device, dtype=wanted, non_blocking=non_blocking or bool(kwargs.get("async", False)))

    return type


def device_arg_rules(target: Target) -> list[Rule]:
    rules: list[Rule] = []
    if target.type != "cuda":
        for param in find_device_params():
            key = "device." + param.path.replace("torch.Tensor.", "Tensor.")
            rules.append(Rule(key, param.owner, param.name,
                              kwargs_device("device", ints=True, pin_kw=True, position=param.position)))
        rules += [
            Rule("device.constructors", "torch.utils._device", "_device_constructors", _device_constructors),
            Rule("device.UntypedStorage.cuda", "torch.UntypedStorage", "cuda", _storage_cuda),
            Rule("device.TypedStorage.cuda", "torch.storage.TypedStorage", "cuda", _storage_cuda),
            Rule("device.Tensor.to", "torch.Tensor", "to", first_arg_device()),
            Rule("device.Module.to", "torch.nn.Module", "to", first_arg_device()),
            Rule("device.Module.to_empty", "torch.nn.Module", "to_empty", kwargs_device("device", ints=True)),
            Rule("device.Tensor.cuda", "torch.Tensor", "cuda", _tensor_cuda,
                 unchecked="a C method without a readable signature; the replacement takes its documented parameters"),
            Rule("device.Tensor.type", "torch.Tensor", "type", _tensor_type,
                 unchecked="a C method without a readable signature; the replacement takes its documented parameters"),
            Rule("device.Module.cuda", "torch.nn.Module", "cuda", _module_cuda),
            Rule("device.torch.load", "torch", "load", _torch_load, MOD,
                 "map_location=None loads CUDA-saved storages onto the target instead of failing"),
            Rule("device.set_default_device", "torch", "set_default_device", first_arg_device_free()),
            Rule("device.DeviceContext", "torch.utils._device.DeviceContext", "__init__", first_arg_device()),
        ]
    if target.type != "cuda":  # after the Tensor.to / Tensor.cuda rows: it lists their replacements
        rules.append(Rule("device.lazy_allowed_methods", "torch.nn.parameter.UninitializedTensorMixin",
                          "_allowed_methods", _lazy_allowed_methods,
                          unchecked="a list of methods, not a callable"))
    if target.type == "cpu":
        rules.append(Rule("stream.Tensor.record_stream", "torch.Tensor", "record_stream", _record_stream, NOOP,
                          "CPU memory is not stream-ordered: nothing to record",
                          unchecked="a C method without a readable signature; the replacement takes (self, stream)"))
    if not target.caps.pin_memory:
        rules += [
            Rule("pin_memory.Tensor", "torch.Tensor", "pin_memory", _pin_memory, NOOP,
                 f"{target.type} has no pinned host memory: the tensor is returned as is",
                 unchecked="a C method without a readable signature; the replacement takes (self, device=None)"),
            Rule("pin_memory.DataLoader", "torch.utils.data.DataLoader", "__init__", _dataloader_init, NOOP,
                 f"{target.type} has no pinned host memory: DataLoader pins nothing"),
        ]
    return rules


def first_arg_device_free():  # type: ignore[no-untyped-def]
    """Like ``first_arg_device`` for a plain function (no self)."""

    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        mapper, hit, key, cat = ctx.mapper, ctx.report.hit, rule.key, rule.category.value

        @functools.wraps(original)
        def wrapper(device: Any, *args: Any, **kwargs: Any) -> Any:
            new = mapper.map(device, True)
            if new is not device:
                hit(key, cat, device, new)
            return original(new, *args, **kwargs)

        return wrapper

    return make
