"""Device arguments -> the target: torch factories, ``Tensor.new_*``, ``.to``, ``.cuda``,
``torch.load``, default-device contexts and pinned memory.
"""
from __future__ import annotations

import functools
from typing import Any

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.rules.wrappers import first_arg_device, kwargs_device
from npu_compat.target import Target

M, MOD, NOOP = Category.MATCH, Category.MODIFIED, Category.NOOP

# Every torch function that creates a tensor and takes ``device=`` (and maybe ``pin_memory=``).
FACTORIES: tuple[str, ...] = (
    "arange", "as_tensor", "asarray", "bartlett_window", "blackman_window", "empty", "empty_like",
    "empty_permuted", "empty_strided", "eye", "from_file", "full", "full_like", "hamming_window",
    "hann_window", "kaiser_window", "linspace", "logspace", "normal", "ones", "ones_like", "rand",
    "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm", "range",
    "scalar_tensor", "sparse_coo_tensor", "sparse_csr_tensor", "tensor", "tril_indices",
    "triu_indices", "zeros", "zeros_like",
)
TENSOR_NEW: tuple[str, ...] = ("new_empty", "new_empty_strided", "new_full", "new_ones", "new_tensor", "new_zeros")


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


def _dataloader_init(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("pin_memory"):
            kwargs["pin_memory"] = False
            hit(key, cat, "pin_memory=True", "pin_memory=False")
        if kwargs.get("pin_memory_device"):
            kwargs["pin_memory_device"] = ""
        original(self, *args, **kwargs)

    return __init__


def device_arg_rules(target: Target) -> list[Rule]:
    rules: list[Rule] = []
    if target.type != "cuda":
        for name in FACTORIES:
            rules.append(Rule(f"device.torch.{name}", "torch", name, kwargs_device("device", ints=True, pin_kw=True)))
        for name in TENSOR_NEW:
            rules.append(Rule(f"device.Tensor.{name}", "torch.Tensor", name, kwargs_device("device", ints=True, pin_kw=True)))
        rules += [
            Rule("device.Tensor.to", "torch.Tensor", "to", first_arg_device()),
            Rule("device.Module.to", "torch.nn.Module", "to", first_arg_device()),
            Rule("device.Module.to_empty", "torch.nn.Module", "to_empty", kwargs_device("device", ints=True)),
            Rule("device.Tensor.cuda", "torch.Tensor", "cuda", _tensor_cuda, check_signature=False),
            Rule("device.Module.cuda", "torch.nn.Module", "cuda", _module_cuda),
            Rule("device.torch.load", "torch", "load", _torch_load, MOD,
                 "map_location=None loads CUDA-saved storages onto the target instead of failing"),
            Rule("device.set_default_device", "torch", "set_default_device", first_arg_device_free()),
            Rule("device.DeviceContext", "torch.utils._device.DeviceContext", "__init__", first_arg_device()),
        ]
    if not target.caps.pin_memory:
        rules += [
            Rule("pin_memory.Tensor", "torch.Tensor", "pin_memory", _pin_memory, NOOP,
                 f"{target.type} has no pinned host memory: the tensor is returned as is", check_signature=False),
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
