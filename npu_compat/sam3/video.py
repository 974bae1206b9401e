"""SAM3 video fixes, as rule rows (installed lazily when the sam3 video modules import).

What upstream sam3 0.1.4's video path needs to run on a non-CUDA target (it assumes CUDA):

- ``sam3.video.bf16_scope``: ``Sam3TrackerPredictor.__init__`` enters a bf16 autocast for
  "cuda" and never leaves it ("keep using for the entire model process"), and
  ``sam3_image.py`` casts the SAM2 neck features to bf16 unconditionally, relying on it. Off
  the cuda target the constructor's process-wide autocast is exited again, and the same bf16
  autocast *on the target* is entered only around the video model's calls
  (``add_prompt``, ``propagate_in_video`` step by step, ``remove_object``), so code outside
  them keeps its own precision. ``.cuda()`` and ``torch.cuda.current_device()`` in
  ``Sam3VideoPredictor`` are handled by the core rows (``device.Module.cuda``, ``cuda.*``).
- ``sam3.video.offload_frames``: ``init_state`` keeps decoded frames on the device unless
  ``offload_video_to_cpu=True``. On the cpu target the default becomes True (the frames are
  host tensors already, so the ``.cuda()`` hops are skipped); elsewhere upstream's default
  stays, and an explicit argument always wins.
- Connected components: upstream's CPU path crashes on an empty batch (``torch.stack([])``)
  once hole filling sees no mask. Not a row here: the ``sam3.kernel.connected_components`` row in
  ``npu_compat/sam3/rules.py`` puts the device-agnostic ``npu_compat.sam3.kernels`` module in its
  place off CUDA, and it answers an empty batch with empty outputs.
- ``sam3.video.random_init``: ``build_sam3_video_model`` downloads the gated checkpoint from
  Hugging Face unless given a checkpoint. With ``load_from_HF=False`` (or
  ``NPU_COMPAT_SAM3_RANDOM_INIT=1`` for scripts that cannot pass it, e.g. through
  ``build_sam3_video_predictor``) and no checkpoint, no download happens: a loud random-weights
  notice is printed and the two ``torch.empty`` text parameters are initialised.

- ``sam3.video.memory_label``: the predictor's session log says "GPU memory: N MiB" from
  ``torch.cuda.memory_allocated`` and friends, which the core ``cuda.*`` rows answer per device:
  the target's own counters, or the process RSS on the cpu target. Off cuda the line names what
  was measured: "host memory (process RSS)" on cpu, "<TYPE> memory (<device>)" elsewhere.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.rules.amp import region_dtype
from npu_compat.sam3.random_init import RANDOM_INIT_ENV, random_init
from npu_compat.target import Target

MOD = Category.MODIFIED
VIDEO_MODEL = "sam3.model.sam3_video_inference.Sam3VideoInferenceWithInstanceInteractivity"
SCOPED_METHODS = ("add_prompt", "remove_object")
SCOPED_GENERATORS = ("propagate_in_video",)


def _autocast_factory(ctx: Context) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """Upstream's bf16 region, on the target, in the dtype the autocast policy gives it (rules/amp.py)."""
    dtype = region_dtype(ctx, torch.bfloat16)
    if dtype is None or dtype not in ctx.target.caps.autocast_dtypes:
        return contextlib.nullcontext
    return functools.partial(torch.autocast, device_type=ctx.target.type, dtype=dtype)


def tracker_init(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        context = getattr(self, "bf16_context", None)
        if context is not None:
            context.__exit__(None, None, None)
            hit(key, cat, "process-wide bf16 autocast", "bf16 autocast around video model calls")

    return __init__


def scoped_method(ctx: Context, rule: Rule, original: Any) -> Any:
    # the region is looked up per call (a pure function of the session's policy and target), so a benchmark
    # can compare autocast variants of one built model in one process

    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        with _autocast_factory(ctx)():
            return original(*args, **kwargs)

    return method


def scoped_generator(ctx: Context, rule: Rule, original: Any) -> Any:
    @functools.wraps(original)
    def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
        inner = original(*args, **kwargs)
        try:
            while True:
                with _autocast_factory(ctx)():  # entered per step: the caller's code between steps runs outside it
                    try:
                        item = next(inner)
                    except StopIteration:
                        return
                yield item
        finally:
            inner.close()

    return generator


def _offload_frames(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def init_state(self: Any, resource_path: Any, offload_video_to_cpu: Any = None, *args: Any, **kwargs: Any) -> Any:
        if offload_video_to_cpu is None:
            offload_video_to_cpu = True
            hit(key, cat, "offload_video_to_cpu=False", "offload_video_to_cpu=True")
        return original(self, resource_path, offload_video_to_cpu, *args, **kwargs)

    return init_state


UPSTREAM_MEMORY_LABEL = "GPU memory:"
VIDEO_PREDICTOR = "sam3.model.sam3_video_predictor.Sam3VideoPredictor"


def memory_label(target: Target) -> str:
    """What the session log's memory numbers measure on `target`."""
    if target.type == "cpu":
        return "host memory (process RSS):"
    device = target.type if target.index is None else f"{target.type}:{target.index}"
    return f"{target.type.upper()} memory ({device}):"


def _session_stats(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    label = memory_label(ctx.target)

    @functools.wraps(original)
    def _get_session_stats(self: Any) -> str:
        text = original(self)
        if UPSTREAM_MEMORY_LABEL in text:
            hit(key, cat, UPSTREAM_MEMORY_LABEL, label)
        return text.replace(UPSTREAM_MEMORY_LABEL, label)

    return _get_session_stats


_video_random_init = random_init  # shared with the image builder's row


def video_rules(target: Target) -> list[Rule]:
    """The video rows for this target (the cuda target keeps upstream's autocast and frame placement)."""
    rules = [
        Rule("sam3.video.random_init", "sam3.model_builder", "build_sam3_video_model", random_init, MOD,
             f"no checkpoint with load_from_HF=False or {RANDOM_INIT_ENV}=1: no download, loud notice, "
             "the torch.empty text parameters get normal(0, 0.02)", lazy=True),
    ]
    if target.type == "cuda":
        return rules
    rules.append(Rule("sam3.video.bf16_scope", "sam3.model.sam3_tracking_predictor.Sam3TrackerPredictor",
                      "__init__", tracker_init, MOD, "the tracker's process-wide bf16 autocast is exited; bf16 "
                      "autocast on the target is entered only around the video model's calls", lazy=True))
    rules.append(Rule("sam3.video.memory_label", VIDEO_PREDICTOR, "_get_session_stats", _session_stats, MOD,
                      "the session log's memory line names what the cuda.* rows measured on the target "
                      "(process RSS on cpu) instead of \"GPU memory\"", lazy=True))
    for name in SCOPED_METHODS:
        rules.append(Rule(f"sam3.video.bf16_scope.{name}", VIDEO_MODEL, name, scoped_method, lazy=True))
    for name in SCOPED_GENERATORS:
        rules.append(Rule(f"sam3.video.bf16_scope.{name}", VIDEO_MODEL, name, scoped_generator, lazy=True))
    if target.type == "cpu":
        rules.append(Rule("sam3.video.offload_frames", "sam3.model.sam3_video_inference.Sam3VideoInference",
                          "init_state", _offload_frames, MOD, "offload_video_to_cpu defaults to True on the cpu "
                          "target (frames are host tensors already)", lazy=True))
    return rules


__all__ = ["video_rules", "memory_label", "RANDOM_INIT_ENV", "tracker_init", "scoped_method", "scoped_generator"]
