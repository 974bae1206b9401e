"""The redirect tables. Each module holds one table; ``core_rules`` lists them in install order."""
from __future__ import annotations

from npu_compat.patcher import Rule
from npu_compat.rules.amp import amp_rules
from npu_compat.rules.availability import availability_rules
from npu_compat.rules.cuda_module import cuda_module_rules
from npu_compat.rules.device_args import device_arg_rules
from npu_compat.rules.device_generic import device_generic_rules
from npu_compat.rules.distributed import distributed_rules
from npu_compat.target import Target


def core_rules(target: Target) -> list[Rule]:
    """Every SAM3-agnostic rule for this target (empty for the cuda target but for nothing)."""
    return (
        cuda_module_rules(target)
        + availability_rules(target)
        + device_arg_rules(target)
        + device_generic_rules(target)
        + amp_rules(target)
        + distributed_rules(target)
    )
