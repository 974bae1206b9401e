"""SAM3 runs for parity: build the tiny or full image model, run it under the shim, capture it.

Capture covers the runs named in issue 4: ``image`` (``Sam3Processor.set_image``), ``text``
(``set_text_prompt``), ``box`` (``add_geometric_prompt``) and ``batched`` (several text prompts
with one box each in one grounding forward, the way ``npu_compat.sam3.batched_prompts`` runs
them). The video path is not captured here yet.
"""
from __future__ import annotations

import contextlib
import io
from typing import Iterator

import torch

from npu_compat.parity.capture import OpRecorder
from npu_compat.parity.e2e import E2EResult, compare_pipelines
from npu_compat.parity.inventory import Inventory
from npu_compat.parity.planted_faults import planted_fault
from npu_compat.parity.pipeline import PipelineInputs, run_pipeline, run_stages, synthetic_inputs

RUNS = ("image", "text", "box", "batched")


@contextlib.contextmanager
def sam3_on(device: str) -> Iterator[None]:
    """Apply the npu_compat shim for ``device`` (sam3 hard-codes "cuda"); revert if we applied it."""
    import npu_compat

    already = npu_compat.current() is not None
    npu_compat.apply(device=device)
    try:
        yield
    finally:
        if not already:
            npu_compat.revert()


def build_model(kind: str = "tiny", checkpoint: str | None = None, seed: int = 0,
                allow_partial: bool = False) -> torch.nn.Module:
    """``tiny`` (seconds on a CPU) or ``full`` (840 M parameters; random init without a checkpoint).

    A checkpoint goes through :mod:`npu_compat.workloads.checkpoints`: read (and refused if it is
    not one) before the build, its keys checked against the model.
    """
    from npu_compat.workloads import checkpoints

    if kind not in ("tiny", "full"):
        raise ValueError(f"model must be 'sam3' or 'tiny', got {kind!r}")
    state = checkpoints.read_checkpoint(checkpoint) if checkpoint else None
    if kind == "tiny":
        from npu_compat.sam3.tiny import build_tiny_sam3_image_model

        model = build_tiny_sam3_image_model(seed=seed)
        if state is not None:
            checkpoints.load_checkpoint(model, checkpoint, allow_partial, state=state)
        return model
    from sam3.model_builder import build_sam3_image_model

    from npu_compat.sam3.tiny import init_uninitialised_text_params
    from npu_compat.sam3.vocab import find_bpe

    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):  # upstream prints every missing key; checked below
        model = build_sam3_image_model(bpe_path=str(find_bpe(None)), device="cpu", eval_mode=True,
                                       checkpoint_path=checkpoint, load_from_HF=False)
    if state is None:
        init_uninitialised_text_params(model, torch.Generator().manual_seed(seed + 1))
    else:
        checkpoints.check_keys(model, checkpoints.image_model_state(state, model), checkpoint, allow_partial)
    return model.eval()


def capture_sam3(kind: str = "tiny", device: str = "cpu", runs: tuple[str, ...] = RUNS,
                 autocast_bf16: bool = False, record_ranges: bool = True, seed: int = 0,
                 checkpoint: str | None = None, allow_partial: bool = False) -> Inventory:
    """Build the model under the shim for ``device`` and record every aten op of ``runs``."""
    from sam3.model.sam3_image_processor import Sam3Processor

    unknown = set(runs) - set(RUNS)
    if unknown:
        raise ValueError(f"unknown runs {sorted(unknown)}; choose from {RUNS}")
    target = torch.device(device)
    recorder = OpRecorder(record_ranges=record_ranges)
    inputs = synthetic_inputs(seed, prompts=("a cat", "a dog", "a tree"), with_boxes=True)
    autocast = (torch.autocast(device_type=target.type, dtype=torch.bfloat16) if autocast_bf16
                else contextlib.nullcontext())
    with sam3_on(device):
        model = build_model(kind, checkpoint, seed, allow_partial).to(target).eval()
        processor = Sam3Processor(model, device=device, confidence_threshold=0.0)
        image = inputs.image.numpy().transpose(1, 2, 0)
        with autocast:
            state = None
            if {"image", "text", "box"} & set(runs):
                with recorder.recording("image") if "image" in runs else contextlib.nullcontext():
                    state = processor.set_image(torch.from_numpy(image).permute(2, 0, 1))
            if "text" in runs:
                with recorder.recording("text"):
                    processor.set_text_prompt(inputs.prompts[0], state)
            if "box" in runs:
                processor.reset_all_prompts(state)
                with recorder.recording("box"):
                    processor.add_geometric_prompt(list(inputs.boxes[0]), True, state)
        if "batched" in runs:
            with recorder.recording("batched"):
                run_stages(model, inputs, target, "bf16" if autocast_bf16 else "fp32")
    inventory = recorder.inventory
    inventory.meta.update({"model": kind, "checkpoint": checkpoint, "device": str(target),
                           "autocast": "bf16" if autocast_bf16 else "none", "torch": torch.__version__,
                           "sam3": _sam3_version(), "seed": seed})
    return inventory


def _sam3_version() -> str:
    try:
        from importlib.metadata import version

        return version("sam3")
    except Exception:  # noqa: BLE001 - metadata is optional
        return "unknown"


def e2e_sam3(kind: str = "tiny", device: str = "cpu", precision: str = "fp32", reference: str = "fp32",
             inputs: PipelineInputs | None = None, checkpoint: str | None = None, seed: int = 0,
             allow_partial: bool = False, fault: str | None = None) -> E2EResult:
    """Run the pipeline on ``device`` and on the CPU reference with the same weights and inputs.

    The model is built under the shim of each side (sam3 creates caches on "cuda" while it is
    constructed), and the device copy is given the reference copy's weights. ``fault`` names a
    planted fault (:mod:`npu_compat.parity.planted_faults`) active for the device run only,
    wrong for the device's dtype: a self-check that the comparison catches a wrong kernel.
    """
    inputs = inputs or synthetic_inputs(seed)
    with sam3_on("cpu"):
        reference_model = build_model(kind, checkpoint, seed, allow_partial)
        reference_stages = run_pipeline(reference_model, inputs, "cpu", reference)
    wrong = planted_fault(fault, torch.bfloat16 if precision == "bf16" else torch.float32) if fault \
        else contextlib.nullcontext()
    if torch.device(device).type == "cpu":
        device_model = reference_model
        with sam3_on("cpu"), wrong:
            device_stages = run_pipeline(device_model, inputs, device, precision)
    else:
        with sam3_on(device):
            device_model = build_model(kind, checkpoint, seed, allow_partial)
            device_model.load_state_dict(reference_model.state_dict())
            with wrong:
                device_stages = run_pipeline(device_model, inputs, device, precision)
    return compare_pipelines(device_stages, reference_stages, precision, device=device,
                             reference=f"cpu ({reference})")
