"""The SAM3 image pipeline, stage by stage, on any device and precision.

``run_pipeline`` preprocesses the image once on the CPU (so both sides see identical pixels),
then runs on ``device``: ``backbone.forward_image`` -> ``backbone.forward_text`` (all prompts
in one batch) -> ``forward_grounding`` with one ``FindStage`` entry per prompt, optionally with
one box prompt per text prompt. It returns every stage's tensors on the CPU:

    backbone  vision_features and each backbone_fpn level
    text      language_features, language_embeds
    logits    pred_logits, presence_logit_dec
    boxes     pred_boxes as xyxy in [0, 1]
    scores    sigmoid(logits) * sigmoid(presence), as Sam3Processor computes them
    masks     pred_masks logits (compared as masks > 0, i.e. sigmoid > 0.5)

The caller wraps the run with ``npu_compat.apply(device=...)`` when sam3 needs the shim.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch

STAGES = ("backbone", "text", "logits", "boxes", "scores", "masks")
PRECISIONS = ("fp32", "bf16", "fp64")


@dataclass(frozen=True)
class PipelineInputs:
    image: torch.Tensor                            # uint8, (3, H, W)
    prompts: tuple[str, ...] = ("a cat",)
    boxes: tuple[tuple[float, float, float, float], ...] | None = None  # cxcywh in [0, 1], one per prompt
    resolution: int = 1008


def synthetic_inputs(seed: int = 0, height: int = 240, width: int = 320,
                     prompts: tuple[str, ...] = ("a cat", "a dog"), with_boxes: bool = False,
                     resolution: int = 1008) -> PipelineInputs:
    """A seeded, smooth random image (blobs, not white noise) and prompts."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.zeros((3, height, width))
    for _ in range(6):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(10, min(height, width) / 2)
        colour = rng.uniform(0, 1, size=(3, 1, 1))
        image += colour * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[None]
    image = np.clip(image / image.max() * 255, 0, 255).astype(np.uint8)
    boxes = tuple((float(a), float(b), 0.3, 0.3) for a, b in rng.uniform(0.3, 0.7, size=(len(prompts), 2))) \
        if with_boxes else None
    return PipelineInputs(torch.from_numpy(image), tuple(prompts), boxes, resolution)


def preprocess(inputs: PipelineInputs) -> torch.Tensor:
    """Sam3Processor's transform, on the CPU in fp32: (1, 3, R, R) in [-1, 1]."""
    from torchvision.transforms import v2

    transform = v2.Compose([
        v2.Resize(size=(inputs.resolution, inputs.resolution)),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
    ])
    return transform(inputs.image).unsqueeze(0)


@contextlib.contextmanager
def strict_fp32(device: torch.device) -> Iterator[None]:
    """Turn off TF32 (CUDA) and HF32 (NPU, when torch_npu is loaded) for IEEE fp32 math."""
    saved: list[tuple[Any, str, Any]] = []

    def set_flag(owner: Any, name: str, value: Any) -> None:
        if owner is not None and hasattr(owner, name):
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)

    if device.type == "cuda":
        set_flag(torch.backends.cuda.matmul, "allow_tf32", False)
        set_flag(torch.backends.cudnn, "allow_tf32", False)
    npu_module = getattr(torch, "npu", None) if device.type == "npu" else None
    set_flag(getattr(npu_module, "conv", None), "allow_hf32", False)
    set_flag(getattr(npu_module, "matmul", None), "allow_hf32", False)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _to_cpu(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().to("cpu")


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


@contextlib.contextmanager
def _fp64_reference() -> Iterator[None]:
    """fp64 on the CPU: sam3 builds prompt tensors with the default dtype, and casts roi boxes
    to fp32 before ``torchvision.ops.roi_align``; give both the input's dtype for this run."""
    import torchvision

    original = torchvision.ops.roi_align

    def roi_align_same_dtype(input: torch.Tensor, boxes: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if isinstance(boxes, (list, tuple)):
            boxes = [box.to(input.dtype) for box in boxes]
        else:
            boxes = boxes.to(input.dtype)
        return original(input, boxes, *args, **kwargs)

    torchvision.ops.roi_align = roi_align_same_dtype
    try:
        with _default_dtype(torch.float64):
            yield
    finally:
        torchvision.ops.roi_align = original


def _precision_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision == "fp64":
        if device.type != "cpu":
            raise ValueError("precision fp64 is a CPU reference; run the device in fp32 or bf16")
        return _fp64_reference()
    return strict_fp32(device)


def run_pipeline(model: torch.nn.Module, inputs: PipelineInputs, device: str | torch.device = "cpu",
                 precision: str = "fp32",
                 around: Callable[[torch.nn.Module], contextlib.AbstractContextManager[Any]] | None = None,
                 ) -> dict[str, dict[str, torch.Tensor]]:
    """Run the stages on a copy of ``model`` moved to ``device``; see the module docstring.

    ``precision``: ``fp32`` (IEEE fp32, TF32/HF32 off), ``bf16`` (bf16 autocast) or ``fp64``
    (weights and inputs in fp64; a CPU reference). ``around(runner)``, when given, is a context
    entered around the stages with the copy that runs them (an msprobe dump, say).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    target = torch.device(device)
    dtype = torch.float64 if precision == "fp64" else torch.float32
    runner = cast_real_tensors(copy.deepcopy(model).to(device=target), dtype).eval()
    with around(runner) if around else contextlib.nullcontext():
        return run_stages(runner, inputs, target, precision)


def cast_real_tensors(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast floating parameters and buffers to ``dtype``, complex ones to its complex twin.

    ``Module.to(dtype=float32)`` casts complex buffers too, keeping only the real part: SAM3's
    RoPE frequencies (``freqs_cis``, complex64) would become cos() alone, which torch warns about
    ("Casting complex values to real discards the imaginary part") and which is not SAM3.
    """
    complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            tensor.data = tensor.data.to(dtype)
        elif tensor.is_complex():
            tensor.data = tensor.data.to(complex_dtype)
    return module


def run_stages(runner: torch.nn.Module, inputs: PipelineInputs, device: torch.device,
               precision: str = "fp32") -> dict[str, dict[str, torch.Tensor]]:
    """Run the stages on ``runner`` as it is (already on ``device``, in the right dtype)."""
    from sam3.model import box_ops
    from sam3.model.data_misc import FindStage

    target = torch.device(device)
    dtype = torch.float64 if precision == "fp64" else torch.float32
    image = preprocess(inputs).to(device=target, dtype=dtype)
    count = len(inputs.prompts)
    stages: dict[str, dict[str, torch.Tensor]] = {}
    with torch.inference_mode(), _precision_context(target, precision):
        backbone_out = runner.backbone.forward_image(image)
        stages["backbone"] = {"vision_features": _to_cpu(backbone_out["vision_features"])}
        for level, feature in enumerate(backbone_out["backbone_fpn"]):
            stages["backbone"][f"fpn{level}"] = _to_cpu(feature)
        text_out = runner.backbone.forward_text(list(inputs.prompts), device=target)
        backbone_out.update(text_out)
        stages["text"] = {key: _to_cpu(text_out[key]) for key in ("language_features", "language_embeds")}
        find_input = FindStage(
            img_ids=torch.zeros(count, device=target, dtype=torch.long),
            text_ids=torch.arange(count, device=target, dtype=torch.long),
            input_boxes=None, input_boxes_mask=None, input_boxes_label=None,
            input_points=None, input_points_mask=None,
        )
        prompt = runner._get_dummy_prompt(num_prompts=count)
        if inputs.boxes is not None:
            boxes = torch.tensor(inputs.boxes, device=target, dtype=dtype).view(1, count, 4)
            prompt.append_boxes(boxes, torch.ones(1, count, device=target, dtype=torch.bool))
        out = runner.forward_grounding(backbone_out=backbone_out, find_input=find_input,
                                       geometric_prompt=prompt, find_target=None)
        wide = torch.float64 if precision == "fp64" else torch.float32
        logits, presence = out["pred_logits"].to(wide), out["presence_logit_dec"].to(wide)
        stages["logits"] = {"pred_logits": _to_cpu(logits), "presence_logit": _to_cpu(presence)}
        stages["boxes"] = {"boxes_xyxy": _to_cpu(box_ops.box_cxcywh_to_xyxy(out["pred_boxes"].to(wide)))}
        scores = (logits.sigmoid() * presence.sigmoid().unsqueeze(1)).squeeze(-1)
        stages["scores"] = {"scores": _to_cpu(scores)}
        stages["masks"] = {"mask_logits": _to_cpu(out["pred_masks"].to(wide))}
    return stages
