"""``SyncBatchNorm`` on the cpu target: statistics synchronised through the process group.

torch's SyncBatchNorm refuses CPU input once a process group is up ("SyncBatchNorm expected input
tensor to be on GPU") and DDP refuses a CPU module that holds one ("SyncBatchNorm layers only work
with GPU modules"): its kernels (``batch_norm_stats`` and friends) exist for CUDA only. On the cpu
target the forward pass computes the per-channel sums, sums of squares and counts of this process,
adds them over the group with an autograd-aware ``all_reduce`` (gloo), and normalises with the
global mean and biased variance, updating the running statistics with the unbiased one, as
CUDA's kernels do. Off the cpu target nothing changes.
"""
from __future__ import annotations

import functools
from typing import Any

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.target import Target


def _global_batch_norm(module: Any, x: torch.Tensor, group: Any) -> torch.Tensor:
    """Batch norm of ``x`` with statistics over every process of ``group`` (training mode)."""
    from torch.distributed.nn.functional import all_reduce  # torch.distributed.nn imports lazily in torch too

    channels = x.size(1)
    dims = [0, *range(2, x.dim())]
    count = torch.full((1,), x.numel() // channels, dtype=x.dtype)
    stats = all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]), group=group)
    total, squares, n = stats[:channels], stats[channels:2 * channels], stats[-1]
    mean = total / n
    var = (squares / n - mean * mean).clamp_min(0)
    if module.track_running_stats and module.running_mean is not None:
        factor = module.momentum if module.momentum is not None else 1.0 / float(module.num_batches_tracked)
        with torch.no_grad():
            module.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            module.running_var.mul_(1 - factor).add_(var.detach() * n / (n - 1).clamp_min(1), alpha=factor)
    shape = [1, channels] + [1] * (x.dim() - 2)
    out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + module.eps)
    if module.affine:
        out = out * module.weight.view(shape) + module.bias.view(shape)
    return out


def _forward(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def forward(self: Any, input: torch.Tensor) -> torch.Tensor:
        dist = torch.distributed
        if not (input.device.type == "cpu" and self.training and dist.is_available() and dist.is_initialized()):
            return original(self, input)  # no sync needed: torch's own path runs plain batch norm
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        hit(key, cat, "SyncBatchNorm on cuda", "statistics summed over the process group on the cpu")
        return _global_batch_norm(self, input, self.process_group or dist.group.WORLD)

    return forward


def _ddp_sync_batchnorm_check(ctx: Context, rule: Rule, original: Any) -> Any:
    @functools.wraps(original)
    def _passing_sync_batchnorm_handle(self: Any, module: Any) -> None:
        if self.device_type != "cpu":
            original(self, module)

    return _passing_sync_batchnorm_handle


def batch_norm_rules(target: Target) -> list[Rule]:
    if target.type != "cpu":
        return []
    note = "no CUDA kernels on the cpu: per-channel sums all-reduced over the process group (gloo)"
    return [
        Rule("batchnorm.SyncBatchNorm.forward", "torch.nn.modules.batchnorm.SyncBatchNorm", "forward", _forward,
             Category.MODIFIED, note),
        Rule("batchnorm.DDP.sync_batchnorm_check", "torch.nn.parallel.distributed.DistributedDataParallel",
             "_passing_sync_batchnorm_handle", _ddp_sync_batchnorm_check, Category.MODIFIED,
             "DDP accepts SyncBatchNorm in a cpu module: its forward synchronises on the cpu target"),
    ]
