"""Read a SAM3 checkpoint and load it into a model, refusing one whose keys do not match.

Every tool loads checkpoints through :func:`load_checkpoint` (or, where upstream's builder does
the loading, :func:`read_checkpoint` before the build and :func:`check_keys` after it):

- a file that is not a PyTorch checkpoint (text, truncated, a folder) is a one-line
  :class:`CheckpointError`, never torch's unpickling advice;
- a checkpoint whose keys do not match the model is refused with the number of missing and
  unexpected keys and a few names of each, unless ``allow_partial`` (``--allow-partial-checkpoint``)
  is given, in which case it loads what matches and says how much did not.

Upstream's ``sam3.pt`` holds ``detector.*`` (the image model) and ``tracker.*`` (the video
tracker) keys; for an image model the ``detector.`` prefix is dropped and the ``tracker.*`` keys
are not counted as unexpected, as upstream's own loader does.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Mapping

import torch

from npu_compat.errors import NpuCompatError
from npu_compat.workloads.inputs import check_readable_file

PARTIAL_FLAG = "--allow-partial-checkpoint"
_EXAMPLES = 3


class CheckpointError(NpuCompatError):
    """A checkpoint that cannot be read, or whose keys do not match the model."""


def check_path(path: str | os.PathLike) -> Path:
    """The checkpoint path, if it names a readable file (cheap: run it before any model build)."""
    return check_readable_file(path, "checkpoint", CheckpointError,
                               missing_fix="pass the path of sam3.pt (see README: Checkpoint)",
                               folder_fix="pass the path of the .pt file, not a folder")


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The checkpoint's state dict (``{"model": {...}}`` unwrapped), tensors memory-mapped where possible."""
    p = check_path(path)
    try:
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            obj = torch.load(p, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except Exception as err:  # pickle, zip and EOF errors all mean: not a checkpoint
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in reason or "Weights only load failed" in reason:
            reason = "it holds objects other than tensors"
        raise CheckpointError(f"{p} is not a PyTorch checkpoint ({type(err).__name__}: {reason[:120]})",
                              "pass a state-dict .pt file such as sam3.pt; re-download it if it is truncated") from None
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{p} is not a state dict of tensors", "pass a checkpoint saved with torch.save(model.state_dict())")
    return dict(obj)


def image_model_state(state: Mapping[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Map a full SAM3 checkpoint (``detector.*``/``tracker.*``) onto an image model, as upstream does."""
    if not any(k.startswith("detector.") for k in state):
        return dict(state)
    mapped = {k[len("detector."):]: v for k, v in state.items() if k.startswith("detector.")}
    if getattr(model, "inst_interactive_predictor", None) is not None:
        mapped.update({"inst_interactive_predictor.model." + k[len("tracker."):]: v
                       for k, v in state.items() if k.startswith("tracker.")})
    return mapped


def _few(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_EXAMPLES])
    return shown + (", ..." if len(names) > _EXAMPLES else "")


def key_mismatch(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, wrong shape) key names of ``state`` against ``model``."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    return missing, unexpected, shapes


def describe_mismatch(missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({_few(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({_few(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} with the wrong shape ({_few(shapes)})")
    return ", ".join(parts)


def check_keys(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str | os.PathLike,
               allow_partial: bool = False) -> tuple[list[str], list[str], list[str]]:
    """Raise :class:`CheckpointError` unless the keys match (or ``allow_partial``); returns the mismatch."""
    missing, unexpected, shapes = key_mismatch(model, state)
    if not (missing or unexpected or shapes):
        return missing, unexpected, shapes
    what = describe_mismatch(missing, unexpected, shapes)
    if len(missing) + len(shapes) >= len(model.state_dict()):
        raise CheckpointError(f"checkpoint {path} is not for this model: {what}",
                              "pass the checkpoint of this model, or change --model")
    if not allow_partial:
        raise CheckpointError(f"checkpoint {path} does not match the model: {what}",
                              f"pass the checkpoint of this model, or {PARTIAL_FLAG} to load only the matching keys")
    sys.stderr.write(f"warning: partial checkpoint {path}: {what}; the rest keeps its initial weights\n")
    return missing, unexpected, shapes


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike, allow_partial: bool = False,
                    state: Mapping[str, torch.Tensor] | None = None) -> torch.nn.Module:
    """Load ``path`` (or an already read ``state``) into ``model`` after :func:`check_keys`."""
    state = image_model_state(read_checkpoint(path) if state is None else state, model)
    missing, unexpected, shapes = check_keys(model, state, path, allow_partial)
    model.load_state_dict({k: v for k, v in state.items() if k not in unexpected and k not in shapes}, strict=False)
    return model


__all__ = ["CheckpointError", "PARTIAL_FLAG", "check_path", "read_checkpoint", "image_model_state",
           "key_mismatch", "check_keys", "load_checkpoint"]
