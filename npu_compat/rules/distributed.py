"""Distributed: nccl -> the target's backend (hccl on npu, gloo on cpu); device ids mapped."""
from __future__ import annotations

import functools
from typing import Any

from npu_compat.patcher import Category, Context, Rule
from npu_compat.target import Target


def map_backend(backend: Any, target: Target) -> Any:
    """``"nccl"`` and ``"cuda:nccl"`` parts become the target's backend."""
    if not isinstance(backend, str):
        return backend
    want = target.caps.dist_backend
    if backend.lower() == "nccl":
        return want
    if ":" in backend:
        parts = []
        for part in backend.split(","):
            dev, _, be = part.partition(":")
            if dev.strip() == "cuda":
                part = f"{target.type}:{want}" if target.type != "cpu" else f"cpu:{want}"
            parts.append(part)
        merged = ",".join(dict.fromkeys(parts))
        return merged if merged != backend else backend
    return backend


def _backend_wrapper(position: int):  # type: ignore[no-untyped-def]
    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        hit, key, cat, target, mapper = ctx.report.hit, rule.key, rule.category.value, ctx.target, ctx.mapper

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > position:
                old = args[position]
                new = map_backend(old, target)
                if new is not old:
                    args = args[:position] + (new,) + args[position + 1 :]
                    hit(key, cat, old, new)
            elif kwargs.get("backend") is not None:
                old = kwargs["backend"]
                new = map_backend(old, target)
                if new is not old:
                    kwargs["backend"] = new
                    hit(key, cat, old, new)
            if kwargs.get("device_id") is not None:
                old = kwargs["device_id"]
                new = None if target.type == "cpu" else mapper.map(old, True)
                kwargs["device_id"] = new
                hit(key, cat, old, new)
            return original(*args, **kwargs)

        return wrapper

    return make


def _ddp_init(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat, mapper = ctx.report.hit, rule.key, rule.category.value, ctx.mapper

    @functools.wraps(original)
    def __init__(self: Any, module: Any, device_ids: Any = None, output_device: Any = None, *args: Any, **kwargs: Any) -> None:
        if device_ids is not None:
            new = mapper.map_ids(device_ids)
            hit(key, cat, device_ids, new)
            device_ids = new
            output_device = None if new is None else mapper.map(output_device, True)
        original(self, module, device_ids, output_device, *args, **kwargs)

    return __init__


def distributed_rules(target: Target) -> list[Rule]:
    if target.type == "cuda":
        return []
    return [
        Rule("dist.init_process_group", "torch.distributed", "init_process_group", _backend_wrapper(0)),
        Rule("dist.new_group", "torch.distributed", "new_group", _backend_wrapper(2)),
        Rule("dist.DDP.device_ids", "torch.nn.parallel.DistributedDataParallel", "__init__", _ddp_init,
             Category.MODIFIED if target.type == "cpu" else Category.MATCH,
             "device_ids become None on the cpu target" if target.type == "cpu" else ""),
    ]
