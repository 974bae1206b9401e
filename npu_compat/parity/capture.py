"""Record every aten op a piece of code calls, with a ``TorchDispatchMode``.

Usage::

    recorder = OpRecorder(record_ranges=True)
    with recorder.recording("image-text"):
        processor.set_text_prompt("a cat", state)
    inventory = recorder.inventory

The mode sits below autograd, so it sees the ops that reach a backend kernel (after
CompositeImplicitAutograd decompositions): exactly the ops a device must implement.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from npu_compat.parity.argspec import encode_value
from npu_compat.parity.inventory import Inventory


def _is_composite_implicit(func: Any) -> bool:
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), "CompositeImplicitAutograd")
    except (AttributeError, RuntimeError):
        return False


def op_name(func: Any) -> str:
    """``aten.convolution.default`` style name of an OpOverload."""
    return str(func)


class _RecordingMode(TorchDispatchMode):
    def __init__(self, recorder: "OpRecorder", label: str) -> None:
        super().__init__()
        self.recorder = recorder
        self.label = label

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D401 (torch API)
        kwargs = kwargs or {}
        if self.recorder.decompose and _is_composite_implicit(func):
            # Under inference_mode the mode sees CompositeImplicitAutograd ops (linear,
            # layer_norm, sdpa) before they decompose. Decompose them here, with the mode
            # active, so the inventory holds the ops that reach a backend kernel either way.
            # Call the C++ composite kernel, not torch._decomp's Python ones (which differ
            # from eager: upsample would become _unsafe_index arithmetic).
            with self:
                return func._op_dk(torch._C.DispatchKey.CompositeImplicitAutograd, *args, **kwargs)
        # The mode is disabled while this handler runs, so measuring ranges records nothing.
        if self.recorder.accepts(func):
            self.recorder.inventory.add(
                op_name(func),
                encode_value(list(args), self.recorder.record_ranges),
                {k: encode_value(v, self.recorder.record_ranges) for k, v in kwargs.items()},
                run=self.label,
            )
        return func(*args, **kwargs)


class OpRecorder:
    """Accumulates an ``Inventory`` over one or more labelled runs."""

    def __init__(self, record_ranges: bool = True, namespaces: tuple[str, ...] = ("aten", "torchvision"),
                 inventory: Inventory | None = None, decompose: bool = True) -> None:
        self.record_ranges = record_ranges
        self.decompose = decompose
        self.namespaces = namespaces
        self.inventory = inventory if inventory is not None else Inventory()

    def accepts(self, func: Any) -> bool:
        namespace = getattr(func, "namespace", None) or str(func).split(".", 1)[0]
        return namespace in self.namespaces

    @contextlib.contextmanager
    def recording(self, label: str) -> Iterator["OpRecorder"]:
        """Record every op called inside the block under the run ``label``."""
        self.inventory.note_run(label)
        with _RecordingMode(self, label):
            yield self


def capture_callable(fn: Any, label: str = "run", record_ranges: bool = True,
                     inventory: Inventory | None = None) -> tuple[Any, Inventory]:
    """Call ``fn()`` under a recorder; return its result and the inventory."""
    recorder = OpRecorder(record_ranges=record_ranges, inventory=inventory)
    with recorder.recording(label):
        result = fn()
    return result, recorder.inventory
