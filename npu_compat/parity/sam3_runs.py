"""SAM3 runs for parity: build the tiny or full image model, run it under the shim, capture it.

Capture covers the image runs: ``image`` (``Sam3Processor.set_image``), ``text``
(``set_text_prompt``), ``box`` (``add_geometric_prompt``) and ``batched`` (several text prompts
with one box each in one grounding forward, the way ``npu_compat.sam3.batched_prompts`` runs
them); and, when asked, ``video`` (:mod:`npu_compat.parity.video_runs`: upstream's video
request API on the tiny video model of the importable sam3, SAM 3.1's multiplex one on
sam3@96914d2).

The shim is applied before sam3 is first imported: sam3@96914d2 (like upstream main) imports
``pkg_resources`` at module level, which only the shim's scoped stand-in provides, and every
revision builds "cuda" caches while it is constructed. So the sam3 imports below sit inside
:func:`sam3_on`, never at module level, and ``python -m npu_compat.parity`` needs no
``python -m npu_compat.apply`` around it (where one is, its session is used as it is).
"""
from __future__ import annotations

import contextlib
import io
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Iterator

import torch

from npu_compat.parity.capture import OpRecorder
from npu_compat.parity.e2e import E2EResult, compare_pipelines
from npu_compat.parity.inventory import Inventory
from npu_compat.parity.planted_faults import planted_fault
from npu_compat.parity.pipeline import PipelineInputs, run_pipeline, run_stages, synthetic_inputs
from npu_compat.parity.video_runs import capture_video
from npu_compat.sam3.revision import SAM31, WHEEL, detect_revision

RUNS = ("image", "text", "box", "batched", "video")
DEFAULT_RUNS = ("image", "text", "box", "batched")


@contextlib.contextmanager
def sam3_on(device: str) -> Iterator[None]:
    """Apply the npu_compat shim for ``device`` (sam3 hard-codes "cuda"); revert if we applied it.

    A session already active for the same device (``python -m npu_compat.apply -- ... parity``)
    is used as it is, whatever its options (its log level, its report): a second ``apply()``
    with the default options would be refused as a change of options.
    """
    import npu_compat

    active = npu_compat.current()
    if active is not None and _same_device(active.target, device):
        yield active
        return
    session = npu_compat.apply(device=device)
    try:
        yield session
    finally:
        if active is None:
            npu_compat.revert()


def _same_device(target: Any, device: str) -> bool:
    wanted = torch.device(device)
    return target.type == wanted.type and (wanted.index is None or target.index in (None, wanted.index))


def pack_rewrites(session: Any) -> dict[str, dict[str, str]]:
    """The rule pack rows (``sam3.*``) that fired in ``session``: what each replaced, and with what.

    A captured inventory holds the ops that ran after these rows did their work (FlashAttention-3
    in fp8 as SDPA, say), so the inventory names them beside its ops.
    """
    rows: dict[str, dict[str, str]] = {}
    for site in session.report.sites.values():
        if site.rule.startswith("sam3.") and site.rule not in rows:
            rows[site.rule] = {"old": site.old, "new": site.new}
    return dict(sorted(rows.items()))


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


def capture_sam3(kind: str = "tiny", device: str = "cpu", runs: tuple[str, ...] = DEFAULT_RUNS,
                 autocast_bf16: bool = False, record_ranges: bool = True, seed: int = 0,
                 checkpoint: str | None = None, allow_partial: bool = False) -> Inventory:
    """Apply the shim for ``device``, then build the model and record every aten op of ``runs``."""
    unknown = set(runs) - set(RUNS)
    if unknown:
        raise ValueError(f"unknown runs {sorted(unknown)}; choose from {RUNS}")
    if "video" in runs and (kind != "tiny" or autocast_bf16):
        raise ValueError("the video run is captured on the tiny model under the shim's own autocast policy: "
                         "use --model tiny --autocast none")
    target = torch.device(device)
    recorder = OpRecorder(record_ranges=record_ranges)
    with sam3_on(device) as session:
        if set(runs) - {"video"}:
            _capture_image(kind, checkpoint, seed, allow_partial, target, runs, recorder, autocast_bf16)
        if "video" in runs:
            with recorder.recording("video"):
                video_meta = capture_video(device, seed)
        rewrites = pack_rewrites(session)
    inventory = recorder.inventory
    inventory.meta.update({"model": kind, "checkpoint": checkpoint, "device": str(target),
                           "autocast": "bf16" if autocast_bf16 else "none", "torch": torch.__version__,
                           "sam3": _sam3_version(), "seed": seed})
    if "video" in runs:
        inventory.meta["video"] = video_meta
    if _sam3_version() == SAM31:  # the 0.1.4 inventories were committed without it
        inventory.meta["rewritten"] = rewrites
    return inventory


def _capture_image(kind: str, checkpoint: str | None, seed: int, allow_partial: bool, target: torch.device,
                   runs: tuple[str, ...], recorder: OpRecorder, autocast_bf16: bool) -> None:
    """The image runs, under the shim that :func:`capture_sam3` applied."""
    from sam3.model.sam3_image_processor import Sam3Processor

    inputs = synthetic_inputs(seed, prompts=("a cat", "a dog", "a tree"), with_boxes=True)
    autocast = (torch.autocast(device_type=target.type, dtype=torch.bfloat16) if autocast_bf16
                else contextlib.nullcontext())
    model = build_model(kind, checkpoint, seed, allow_partial).to(target).eval()
    processor = Sam3Processor(model, device=str(target), confidence_threshold=0.0)
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


def _sam3_version() -> str:
    """``0.1.4`` for the wheel (as the committed 0.1.4 inventories say), else the upstream revision."""
    revision = detect_revision()
    if revision is None or revision == WHEEL:
        try:
            return version("sam3")
        except PackageNotFoundError:
            return "unknown"
    return revision


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
