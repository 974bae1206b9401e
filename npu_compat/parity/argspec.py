"""Op arguments as JSON specs, and inputs regenerated from them.

A tensor argument is recorded by its metadata (shape, dtype, strides, storage offset and
storage size) and, optionally, the value range seen in the real activation. Replay regenerates
a tensor with the same layout from a seeded generator: uniform in the recorded range, or an
op-aware default (indices in range, positive inputs for sqrt/log/...) when no range was kept.

Every other argument (ints, floats, lists, dtypes, devices, ...) is stored as JSON with a small
tag where JSON has no type of its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

# Ops whose tensor inputs must be positive when no real value range was recorded.
POSITIVE_INPUT_OPS = frozenset({
    "sqrt", "rsqrt", "log", "log2", "log10", "log1p", "reciprocal", "pow", "lgamma", "digamma",
})
_TAG = "t"


class UnreplayableArgument(ValueError):
    """An argument kind that cannot be regenerated (e.g. a Generator or an opaque object)."""


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def dtype_from_name(name: str) -> torch.dtype:
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise UnreplayableArgument(f"unknown dtype {name!r}")
    return value


def _tensor_range(tensor: torch.Tensor) -> dict[str, Any]:
    """min/max of the finite values (abs max for complex); {} when there is nothing to measure."""
    if tensor.numel() == 0 or tensor.device.type == "meta" or tensor.dtype == torch.bool:
        return {}
    with torch.no_grad():
        flat = tensor.detach().reshape(-1)
        if flat.is_complex():
            mags = flat.abs()
            mags = mags[torch.isfinite(mags)]
            return {"absmax": float(mags.max())} if mags.numel() else {}
        if flat.is_floating_point():
            flat = flat[torch.isfinite(flat)]
            if flat.numel() == 0:
                return {}
        return {"min": _json_number(flat.min().item()), "max": _json_number(flat.max().item())}


def _json_number(value: float | int) -> float | int:
    return value if isinstance(value, int) else float(value)


def encode_tensor(tensor: torch.Tensor, record_range: bool) -> dict[str, Any]:
    try:
        storage_numel = tensor.untyped_storage().nbytes() // max(tensor.element_size(), 1)
        offset = tensor.storage_offset()
    except (RuntimeError, NotImplementedError):  # tensors without storage (sparse, nested)
        storage_numel, offset = tensor.numel(), 0
    spec: dict[str, Any] = {
        _TAG: "tensor",
        "shape": list(tensor.shape),
        "dtype": dtype_name(tensor.dtype),
        "stride": list(tensor.stride()),
        "offset": offset,
        "storage": storage_numel,
        "device": tensor.device.type,
    }
    if record_range:
        spec.update(_tensor_range(tensor))
    return spec


def encode_value(value: Any, record_range: bool = True) -> Any:
    """Turn one op argument into JSON-serialisable data (see module docstring)."""
    if isinstance(value, torch.Tensor):
        return encode_tensor(value, record_range)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_TAG: "float", "v": repr(value)}
    if isinstance(value, complex):
        return {_TAG: "complex", "re": value.real, "im": value.imag}
    if isinstance(value, (list, tuple)):
        return [encode_value(item, record_range) for item in value]
    if isinstance(value, torch.dtype):
        return {_TAG: "dtype", "v": dtype_name(value)}
    if isinstance(value, torch.device):
        return {_TAG: "device", "v": value.type}
    if isinstance(value, torch.layout):
        return {_TAG: "layout", "v": str(value).removeprefix("torch.")}
    if isinstance(value, torch.memory_format):
        return {_TAG: "memory_format", "v": str(value).removeprefix("torch.")}
    return {_TAG: "opaque", "v": type(value).__name__}


def strip_ranges(spec: Any) -> Any:
    """The spec without value ranges: what makes two calls 'the same signature'."""
    if isinstance(spec, list):
        return [strip_ranges(item) for item in spec]
    if isinstance(spec, dict):
        if spec.get(_TAG) == "tensor":
            return {k: v for k, v in spec.items() if k not in ("min", "max", "absmax")}
        return {k: strip_ranges(v) for k, v in spec.items()}
    return spec


def merge_ranges(into: Any, other: Any) -> None:
    """Widen the value ranges of ``into`` to cover those of ``other`` (same signature)."""
    if isinstance(into, list) and isinstance(other, list):
        for a, b in zip(into, other):
            merge_ranges(a, b)
    elif isinstance(into, dict) and isinstance(other, dict):
        if into.get(_TAG) == "tensor":
            for key, pick in (("min", min), ("max", max), ("absmax", max)):
                if key in into and key in other:
                    into[key] = pick(into[key], other[key])
                elif key in other:
                    into[key] = other[key]
        else:
            for key in into.keys() & other.keys():
                merge_ranges(into[key], other[key])


def iter_tensor_specs(spec: Any):
    """Yield every tensor spec inside an argument structure."""
    if isinstance(spec, list):
        for item in spec:
            yield from iter_tensor_specs(item)
    elif isinstance(spec, dict):
        if spec.get(_TAG) == "tensor":
            yield spec
        elif _TAG not in spec:
            for item in spec.values():
                yield from iter_tensor_specs(item)


@dataclass(frozen=True)
class TensorRecipe:
    """A regenerated tensor: a flat CPU storage and the view that the op received."""

    base: torch.Tensor
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int

    def build(self, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
        base = self.base.to(device=device, dtype=dtype or self.base.dtype)
        if self.offset == 0 and base.numel() == _needed_storage(list(self.shape), list(self.stride), 0):
            # The op got a tensor that owns its storage: give it one too (not a view), so
            # in-place ops that refuse views (detach_, resize_) behave as in the real run.
            owned = torch.empty_strided(self.shape, self.stride, dtype=base.dtype, device=base.device)
            owned.as_strided((base.numel(),), (1,), 0).copy_(base)
            return owned
        return base.as_strided(self.shape, self.stride, self.offset)


def _needed_storage(shape: list[int], stride: list[int], offset: int) -> int:
    if any(size == 0 for size in shape):
        return offset
    return offset + 1 + sum((size - 1) * abs(step) for size, step in zip(shape, stride))


def _fill(numel: int, dtype: torch.dtype, spec: dict[str, Any], hint: "ValueHint",
          generator: torch.Generator) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.rand(numel, generator=generator) < 0.5
    if hint.rois_of is not None:
        return _rois(numel, dtype, hint, generator)
    if dtype.is_complex:
        scale = float(spec.get("absmax", 1.0)) / math.sqrt(2.0)
        real_dtype = torch.float64 if dtype == torch.complex128 else torch.float32
        parts = (torch.rand(numel, 2, generator=generator, dtype=real_dtype) * 2 - 1) * scale
        return torch.view_as_complex(parts.contiguous()).to(dtype)
    low, high = spec.get("min"), spec.get("max")
    if low is None or high is None:
        low, high = hint.low, hint.high
    if dtype.is_floating_point:
        values = torch.rand(numel, generator=generator, dtype=torch.float64)
        return (low + (high - low) * values).to(dtype)
    low, high = int(math.floor(low)), int(math.floor(high))
    return torch.randint(low, high + 1, (numel,), generator=generator, dtype=torch.int64).to(dtype)


@dataclass(frozen=True)
class ValueHint:
    """Default value range for a tensor argument when the capture kept none.

    ``rois_of`` marks a roi_align box tensor (K, 5): batch index, then x1 y1 x2 y2 inside the
    feature map of that shape (in its own scale), which a uniform range cannot express.
    """

    low: float = -1.0
    high: float = 1.0
    rois_of: tuple[int, ...] | None = None
    rois_scale: float = 1.0


def _rois(numel: int, dtype: torch.dtype, hint: ValueHint, generator: torch.Generator) -> torch.Tensor:
    batch, _, height, width = hint.rois_of
    count = numel // 5
    index = torch.randint(0, batch, (count, 1), generator=generator).double()
    corner = torch.rand(count, 2, generator=generator, dtype=torch.float64) * 0.6
    size = 0.05 + torch.rand(count, 2, generator=generator, dtype=torch.float64) * 0.35
    scale = torch.tensor([width, height], dtype=torch.float64) / hint.rois_scale
    boxes = torch.cat([index, corner * scale, (corner + size) * scale], dim=1)
    return torch.cat([boxes.reshape(-1), torch.zeros(numel - boxes.numel(), dtype=torch.float64)]).to(dtype)


def value_hint(op_base: str, position: int, arg_specs: list[Any]) -> ValueHint:
    """Op-aware defaults: positive inputs where the math needs them, indices within the dim."""
    if op_base in POSITIVE_INPUT_OPS:
        return ValueHint(0.1, 2.0)
    first = arg_specs[0] if arg_specs else None
    shape = first.get("shape") if isinstance(first, dict) else None
    if shape and op_base in ("gather", "scatter", "index_select", "scatter_add") and position == 2:
        dim = arg_specs[1] if isinstance(arg_specs[1], int) else 0
        return ValueHint(0, max(shape[dim] - 1, 0))
    if op_base == "embedding" and position == 1 and shape:
        return ValueHint(0, max(shape[0] - 1, 0))
    if op_base == "index" and position == 1 and shape:
        return ValueHint(0, max(min(shape) - 1, 0))
    if op_base in ("roi_align", "ps_roi_align", "roi_pool") and position == 1 and shape and len(shape) == 4:
        scale = arg_specs[2] if len(arg_specs) > 2 and isinstance(arg_specs[2], (int, float)) else 1.0
        return ValueHint(rois_of=tuple(shape), rois_scale=float(scale) or 1.0)
    return ValueHint()


def regenerate(spec: Any, generator: torch.Generator, hint: ValueHint = ValueHint(),
               float_dtype_override: torch.dtype | None = None) -> Any:
    """Rebuild an argument from its spec; tensors come back as ``TensorRecipe``."""
    if isinstance(spec, list):
        return [regenerate(item, generator, hint, float_dtype_override) for item in spec]
    if not isinstance(spec, dict):
        return spec
    tag = spec.get(_TAG)
    if tag == "tensor":
        dtype = dtype_from_name(spec["dtype"])
        if float_dtype_override is not None and dtype == torch.float32:
            dtype = float_dtype_override
        shape, stride, offset = spec["shape"], spec["stride"], spec["offset"]
        numel = max(_needed_storage(shape, stride, offset), int(spec.get("storage", 0)))
        base = _fill(numel, dtype, spec, hint, generator)
        return TensorRecipe(base, tuple(shape), tuple(stride), offset)
    if tag == "float":
        return float(spec["v"])
    if tag == "complex":
        return complex(spec["re"], spec["im"])
    if tag == "dtype":
        dtype = dtype_from_name(spec["v"])
        if float_dtype_override is not None and dtype == torch.float32:
            return float_dtype_override
        return dtype
    if tag == "device":
        return torch.device(spec["v"])
    if tag == "layout":
        return getattr(torch, spec["v"])
    if tag == "memory_format":
        return getattr(torch, spec["v"])
    if tag == "opaque":
        raise UnreplayableArgument(f"argument of type {spec['v']} cannot be regenerated")
    return {key: regenerate(value, generator, hint, float_dtype_override) for key, value in spec.items()}
