"""``torch_npu.utils.storage`` of the simulated npu (a TEST DOUBLE of the Ascend stack).

msprobe and unpickling of npu tensors call ``_rebuild_npu_tensor``; on the simulated npu a device
tensor keeps its data in plain storage, so it is torch's own rebuild (the ``npu_storage_info``
that torch_npu keeps for private formats has no meaning here).
"""
from typing import Any

import torch
from torch._utils import _rebuild_tensor_v2

__all__: list = []


def _rebuild_npu_tensor(storage: Any, storage_offset: int, size: Any, stride: Any, requires_grad: bool,
                        backward_hooks: Any, npu_storage_info: Any = None) -> torch.Tensor:
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
