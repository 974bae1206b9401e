"""SAM 3.1 (upstream ``sam3@96914d2``): the device code 3.1 added, as rule rows.

Installed only when :func:`npu_compat.sam3.revision.detect_revision` finds 3.1 (all rows are
lazy: they patch sam3 modules when those import).

- ``sam3.fa3.attention``: ``perflib/fa3.py``'s ``flash_attn_func`` casts q/k/v to fp8
  (``float8_e4m3fn``) and calls FlashAttention-3 (``flash_attn_interface``, Hopper only) through
  the custom op ``flash::flash_attn_func``; the 3.1 builders turn it on by default
  (``use_fa3=True``). Where the target is not cuda, or ``flash_attn_interface`` is not
  installed, the same (batch, seq, heads, head_dim) attention runs as the target's
  ``scaled_dot_product_attention`` in the inputs' dtype (no fp8).
- ``sam3.fused.addmm_act``: the ViT MLP calls ``perflib/fused.py``'s ``addmm_act``, which casts
  to bf16 unconditionally and calls ``torch.ops.aten._addmm_activation`` (a CUDA-tuned fused op,
  absent from torch_npu), then hands its bf16 result to an fp32 ``fc2``: outside a bf16 autocast
  that fails ("mat1 and mat2 must have the same dtype, but got BFloat16 and Float"). Off cuda it
  becomes ``linear`` + ``relu``/``gelu`` in the dtype of the autocast in force on the input's
  device (the policy's dtype, ``--autocast``), else the input's own dtype.
- ``sam3.upstream.init_state_offload_state``: upstream's bug at 96914d2, not a device matter:
  ``Sam3BasePredictor.start_session`` passes ``offload_state_to_cpu`` to ``model.init_state``,
  and the multiplex model's ``init_state`` does not take it, so no 3.1 session can start. Its
  ``init_state`` accepts the argument; ``False`` (the default) is dropped, ``True`` is an error
  that says the multiplex model keeps its state on the device. Every target, cuda included.
- ``sam3.upstream.addmm_act_grad.*`` (cuda target; off cuda the ``sam3.fused.addmm_act`` rows
  already cover it): upstream's bug at 96914d2: ``addmm_act`` raises "Expected grad to be
  disabled." whenever gradients are on (and its fused path detaches the weights), so sam3's trainer
  fails in the ViT's first forward. With gradients on it becomes ``linear`` + activation; without,
  upstream's fused kernel runs as it is.
- ``sam3.sam31.bf16_scope*``: ``Sam3MultiplexVideoPredictor.__init__`` and the multiplex tracker
  wrappers enter a process-wide bf16 autocast; as for 0.1.4's tracker
  (``npu_compat/sam3/video.py``), it is exited again, and the policy's autocast on the target
  is entered around the multiplex model's ``add_prompt``, ``propagate_in_video`` steps and
  ``remove_object``.
- ``sam3.sam31.neck_dtype``: the multiplex detector casts the SAM2 neck features to bf16 before
  ``_gather_tensor``, as 0.1.4's detector does; the same policy row
  (``npu_compat/sam3/autocast_rules.py``) covers it.
- ``sam3.sam31.random_init`` / ``sam3.sam31.no_download``: ``build_sam3_multiplex_video_predictor``
  (what ``build_sam3_predictor(version="sam3.1")`` calls) downloads ``facebook/sam3.1`` when no
  checkpoint is given. With ``NPU_COMPAT_SAM3_RANDOM_INIT=1`` no download happens: a loud
  random-weights notice, and the detector's two ``torch.empty`` text parameters get normal(0, 0.02).

- ``sam3.sam31.compile`` (npu target only): ``compile=True`` (``build_sam3_predictor(version="sam3.1",
  compile=True)``) sets the multiplex model's and its detector's ``compile_model``. The model's
  ``_compile_model`` then compiles the detector's text encoder, vision backbone, transformer and
  segmentation head and the tracker's mask-memory encoder, memory attention and mask decoder with
  ``torch.compile(mode="max-autotune", fullgraph=True)`` at the first ``propagate_in_video`` (dynamo's
  ``suppress_errors`` on), the detector compiles its mask NMS the same way, and ``warm_up=True`` runs
  a warm-up that refuses any device but cuda. On torch_npu, torch.compile needs triton-ascend
  (inductor) or torchair, and upstream's modes are tuned for CUDA graphs: the model is built with
  ``compile_model`` off, so it runs eagerly; said once in the log and counted in the report.
  ``NPU_COMPAT_SAM3_COMPILE=1`` keeps upstream's compile for a user who has set up a torch.compile
  backend for the npu.

``.cuda()``, ``torch.cuda.*``, ``torch.backends.cuda.*`` and ``nccl`` in the 3.1 code are the core
rows' (``device.*``, ``cuda.*``, ``dist.*``); the triton kernels are the
``sam3.kernel.*`` rows of ``npu_compat/sam3/rules.py``.
"""
from __future__ import annotations

import functools
import importlib.util
import inspect
import logging
import os
import sys
from typing import Any

import torch
import torch.nn.functional as F

from npu_compat.patcher import Category, Context, Rule
from npu_compat.sam3.autocast_rules import neck_dtype
from npu_compat.sam3.random_init import RANDOM_INIT_ENV, RANDOM_WEIGHTS_NOTICE
from npu_compat.sam3.tiny import init_uninitialised_text_params
from npu_compat.sam3.video import scoped_generator, scoped_method, tracker_init
from npu_compat.target import Target

MOD = Category.MODIFIED
FA3 = "sam3.perflib.fa3"
MULTIPLEX_MODEL = "sam3.model.sam3_multiplex_tracking.Sam3MultiplexTrackingWithInteractivity"
MULTIPLEX_TRACKING = "sam3.model.sam3_multiplex_tracking.Sam3MultiplexTracking"  # defines compile_model
MULTIPLEX_PREDICTOR = "sam3.model.sam3_multiplex_video_predictor.Sam3MultiplexVideoPredictor"
MULTIPLEX_BASE = "sam3.model.sam3_multiplex_base"
MULTIPLEX_DETECTOR = "sam3.model.sam3_multiplex_detector.Sam3MultiplexDetector"
BUILDER = "sam3.model_builder"
SAM31_CHECKPOINT_NOTICE = (
    "!! SAM 3.1: pass checkpoint_path=/path/to/sam3.1_multiplex.pt (gated repo facebook/sam3.1).\n"
)


def fa3_available() -> bool:
    """FlashAttention-3's Python interface is installed (it runs on Hopper GPUs only)."""
    try:
        return importlib.util.find_spec("flash_attn_interface") is not None
    except (ImportError, ValueError):
        return False


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``flash_attn_func(q, k, v)`` of FA3's layout, (batch, seq, heads, head_dim), on SDPA."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


def _fa3_attention(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def flash_attn_func(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        hit(key, cat, "FlashAttention-3 in float8_e4m3fn", f"scaled_dot_product_attention in {q.dtype}")
        return sdpa_attention(q, k, v)

    return flash_attn_func


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a bf16-casting upstream op should run in: the autocast's on x's device, else x's."""
    device_type = x.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return x.dtype


def addmm_activation(activation: Any, linear: torch.nn.Linear, mat1: torch.Tensor) -> torch.Tensor:
    """``perflib.fused.addmm_act`` as ``linear`` + activation, in :func:`compute_dtype` of ``mat1``."""
    if activation in (F.relu, torch.nn.ReLU):
        act = F.relu
    elif activation in (F.gelu, torch.nn.GELU):
        act = F.gelu  # what nn.GELU computes, and what aten._addmm_activation(use_gelu=True) does on the cpu
    else:
        raise ValueError(f"Unexpected activation {activation}")
    dtype = compute_dtype(mat1)
    bias = linear.bias.to(dtype) if linear.bias is not None else None
    return act(F.linear(mat1.to(dtype), linear.weight.to(dtype), bias))


def _addmm_act_as_linear(old: str, *, only_with_grad: bool = False) -> Any:
    """A row factory: ``addmm_act`` runs as :func:`addmm_activation` (always, or only with gradients on,
    where upstream's own refuses), reported as replacing ``old``."""

    def factory(ctx: Context, rule: Rule, original: Any) -> Any:
        hit, key, cat = ctx.report.hit, rule.key, rule.category.value

        @functools.wraps(original)
        def addmm_act(activation: Any, linear: Any, mat1: torch.Tensor) -> torch.Tensor:
            if only_with_grad and not torch.is_grad_enabled():
                return original(activation, linear, mat1)
            out = addmm_activation(activation, linear, mat1)
            hit(key, cat, old, f"linear + activation in {out.dtype}")
            return out

        return addmm_act

    return factory


_addmm_act = _addmm_act_as_linear("bf16 aten._addmm_activation")
_addmm_act_grad = _addmm_act_as_linear("addmm_act with gradients on (upstream ValueError)", only_with_grad=True)


def _init_state(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def init_state(self: Any, *args: Any, offload_state_to_cpu: bool = False, **kwargs: Any) -> Any:
        if offload_state_to_cpu:
            raise NotImplementedError("offload_state_to_cpu=True: the SAM 3.1 multiplex model keeps its "
                                      "inference state on the device; start the session without it")
        hit(key, cat, "init_state(offload_state_to_cpu=False) (upstream TypeError)", "argument dropped")
        return original(self, *args, **kwargs)

    return init_state


def _no_download(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def download_ckpt_from_hf(*args: Any, **kwargs: Any) -> Any:
        if os.environ.get(RANDOM_INIT_ENV, "") not in ("1", "true", "yes"):
            return original(*args, **kwargs)
        sys.stderr.write(RANDOM_WEIGHTS_NOTICE + SAM31_CHECKPOINT_NOTICE)
        hit(key, cat, "Hugging Face download", f"no checkpoint ({RANDOM_INIT_ENV}=1)")
        return None

    return download_ckpt_from_hf


def _random_init(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def build(*args: Any, **kwargs: Any) -> Any:
        bound = inspect.signature(original).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        predictor = original(*args, **kwargs)
        if bound.arguments.get("checkpoint_path") is None and os.environ.get(RANDOM_INIT_ENV, "") in ("1", "true", "yes"):
            names = init_uninitialised_text_params(predictor.model, torch.Generator().manual_seed(0))
            hit(key, cat, "no checkpoint", f"random init; text params normal(0, 0.02): {len(names)} tensors")
        return predictor

    return build


COMPILE_ENV = "NPU_COMPAT_SAM3_COMPILE"
EAGER_ON_NPU = (f"the model runs eagerly: torch.compile on torch_npu needs triton-ascend or torchair, and upstream's "
                f"max-autotune modes are tuned for CUDA graphs ({COMPILE_ENV}=1 keeps upstream's compile)")
LOG = logging.getLogger("npu_compat")


def keep_compile() -> bool:
    """``NPU_COMPAT_SAM3_COMPILE=1``: upstream's torch.compile is kept on the npu target."""
    return os.environ.get(COMPILE_ENV, "") in ("1", "true", "yes")


def _eager_compile(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    told: list[bool] = []

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if not getattr(self, "compile_model", False) or keep_compile():
            return
        self.compile_model = self.detector.compile_model = False  # also read by warm-up and the detector's NMS
        if not told:
            told.append(True)
            LOG.warning("npu_compat: SAM 3.1 compile=True on %s: %s", ctx.target.type, EAGER_ON_NPU)
        hit(key, cat, "compile=True (torch.compile, max-autotune)", "compile_model=False: eager")

    return __init__


def sam31_rules(target: Target) -> list[Rule]:
    """The 3.1 rows for this target (see the module docstring)."""
    rules = [
        Rule("sam3.upstream.init_state_offload_state", MULTIPLEX_MODEL, "init_state", _init_state, MOD,
             "upstream bug at 96914d2: start_session passes offload_state_to_cpu, which the multiplex "
             "init_state does not take; it is accepted (False dropped, True a clear error)", lazy=True),
        Rule("sam3.sam31.no_download", BUILDER, "download_ckpt_from_hf", _no_download, MOD,
             f"with {RANDOM_INIT_ENV}=1 no Hugging Face download: no checkpoint, loud random-weights notice",
             lazy=True),
        Rule("sam3.sam31.random_init", BUILDER, "build_sam3_multiplex_video_predictor", _random_init, MOD,
             f"with {RANDOM_INIT_ENV}=1 and no checkpoint the detector's torch.empty text parameters get "
             "normal(0, 0.02)", lazy=True),
    ]
    if target.type != "cuda" or not fa3_available():
        rules.append(Rule("sam3.fa3.attention", FA3, "flash_attn_func", _fa3_attention, MOD,
                          "FlashAttention-3 in fp8 (flash_attn_interface, Hopper) runs as the target's "
                          "scaled_dot_product_attention in the inputs' dtype", lazy=True))
    if target.type == "cuda":
        return rules + [Rule(f"sam3.upstream.addmm_act_grad.{owner.rsplit('.', 1)[1]}", owner, "addmm_act",
                             _addmm_act_grad, MOD, "upstream bug at 96914d2: addmm_act refuses gradients, so the ViT "
                             "cannot be trained; with gradients on it runs as linear + activation", lazy=True)
                        for owner in ("sam3.model.vitdet", "sam3.perflib.fused")]
    if target.type == "npu":
        rules.append(Rule("sam3.sam31.compile", MULTIPLEX_TRACKING, "__init__", _eager_compile, MOD,
                          f"compile=True: {EAGER_ON_NPU}", lazy=True))
    for owner in ("sam3.model.vitdet", "sam3.perflib.fused"):
        rules.append(Rule(f"sam3.fused.addmm_act.{owner.rsplit('.', 1)[1]}", owner, "addmm_act", _addmm_act, MOD,
                          "bf16 aten._addmm_activation becomes linear + relu/gelu in the autocast's dtype "
                          "(the policy's), else the input's", lazy=True))
    for owner in (MULTIPLEX_PREDICTOR, f"{MULTIPLEX_BASE}.Sam3MultiplexTrackerPredictor",
                  f"{MULTIPLEX_BASE}.Sam3MultiplexPredictorWrapper"):
        rules.append(Rule(f"sam3.sam31.bf16_scope.{owner.rsplit('.', 1)[1]}", owner, "__init__", tracker_init, MOD,
                          "the process-wide bf16 autocast entered in __init__ is exited; the policy's autocast "
                          "on the target is entered around the multiplex model's calls", lazy=True))
    for name in ("add_prompt", "remove_object"):
        rules.append(Rule(f"sam3.sam31.bf16_scope.{name}", MULTIPLEX_MODEL, name, scoped_method, lazy=True))
    rules.append(Rule("sam3.sam31.bf16_scope.propagate_in_video", MULTIPLEX_MODEL, "propagate_in_video",
                      scoped_generator, lazy=True))
    rules.append(Rule("sam3.sam31.neck_dtype", MULTIPLEX_DETECTOR, "_gather_tensor", neck_dtype, MOD,
                      "the SAM2 neck features the multiplex detector casts to bf16 follow the autocast "
                      "policy's dtype for bf16 regions", lazy=True))
    return rules


__all__ = ["sam31_rules", "keep_compile", "COMPILE_ENV", "fa3_available", "sdpa_attention", "addmm_activation", "compute_dtype"]
