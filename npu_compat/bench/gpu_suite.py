"""``tools/bench.py gpu``: the accelerator benchmarks in one command, for a GPU machine that may have no
access to package registries.

The plan (:func:`gpu_plan`) is a list of the suite's own sub-benchmarks (``npu_compat.bench.suite``) sized for
a GPU: upstream's ``set_image`` + one text prompt in bf16 and fp32 (its cached-image part is the grounding
stage), a cached-image prompt batch eager and as a captured CUDA graph, 80 COCO prompts per image end to end (upstream's one prompt at a time beside the kit's batched
prompts, in the same process), video frames per second at 854x480, and device ops / host syncs per prompt.
Every result is stamped with the GPU's name and the date, written after each step (a stopped run keeps what
finished), and its Markdown block goes into ``docs/benchmarks.md`` under ``gpu <name>``.

``--dry-run`` prints the plan and what the machine lacks for it, builds nothing and writes nothing: it runs
on a machine without a GPU.

One process imports one sam3, so the suite runs the sam3 that is importable (``npu_compat.sam3.revision``): on
the 0.1.4 wheel the video step is SAM 3's video predictor, on an upstream sam3@96914d2 tree first on
``PYTHONPATH`` it is SAM 3.1's multiplex predictor (``build_sam3_predictor(version="sam3.1")``). The other
sam3's rows come from a second run of the suite (:func:`other_run`); every block is named with the revision
(``gpu video sam3==0.1.4``, ``gpu video sam3@96914d2``), so the two runs keep their own blocks.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from npu_compat.bench import markdown
from npu_compat.bench.suite import BenchConfig, Result, run_suite, write_json
from npu_compat.errors import NpuCompatError
from npu_compat.sam3.revision import SAM31, WHEEL, detect_revision, video_version
from npu_compat.sam3.vocab import find_bpe

# What a GPU machine without registry access needs beside torch, as wheels: distribution -> import name.
CARRIED_WHEELS = {"sam3==0.1.4": "sam3", "ftfy": "ftfy", "wcwidth": "wcwidth", "pycocotools": "pycocotools",
                  "iopath": "iopath"}
# Imported too, and present in the usual GPU images (torch images with timm and scikit-image): checked, not carried.
IMAGE_PACKAGES = {"timm": "timm", "einops": "einops", "scikit-image": "skimage", "scipy": "scipy", "psutil": "psutil",
                  "pillow": "PIL", "regex": "regex", "huggingface-hub": "huggingface_hub"}
WHEEL_COMMAND = "pip wheel --no-deps -w wheels/ " + " ".join(CARRIED_WHEELS)
INSTALL_COMMAND = "pip install --no-index --no-deps wheels/*.whl"
# SAM 3.1 is not on PyPI: its tree travels as a folder. Its video path imports nothing beyond the lists above
# (its pyproject adds numpy<2, tqdm and typing_extensions, which torch brings); FlashAttention-3
# (flash_attn_interface, Hopper) is optional: without it the kit runs 3.1's attention on SDPA.
SAM31_TREE_COMMAND = ("git --git-dir=<a clone of upstream sam3> archive 96914d2 sam3 pyproject.toml "
                      "| tar -x -C sam3-96914d2")
SAM31_OPTIONAL = {"flash-attn-3 (Hopper)": "flash_attn_interface"}
VIDEO_SIZE = (480, 854)  # height, width
PREFIX = "gpu "


@dataclass(frozen=True)
class GpuStep:
    name: str  # the suite's sub-benchmark
    what: str


def gpu_config(model: str, argv: Sequence[str], video_frames: int = 24) -> BenchConfig:
    """The one configuration every step shares (one model build for all of them)."""
    return BenchConfig(model=model, dtypes=("bf16", "fp32"), prompts=80, rounds=5, video_frames=video_frames,
                       video_size=VIDEO_SIZE, video_dtypes=("shim",), video_threshold=0.05, video_max_objects=8,
                       argv=list(argv))


def gpu_plan(config: BenchConfig) -> list[GpuStep]:
    h, w = config.video_size
    return [
        GpuStep("image", f"{config.model}: upstream set_image + 1 text prompt, stage by stage (the grounding stage "
                f"is the prompt on a cached image), {' and '.join(config.dtypes)} interleaved, median of "
                f"{config.rounds}"),
        GpuStep("capture", f"{config.model} {config.dtypes[0]}: a prompt batch on a cached image (text features "
                f"cached), eager beside the captured path (CUDA graphs: one graph per prompt batch), per prompt, "
                "with device ops outside the graph and host syncs"),
        GpuStep("coco-prompts", f"{config.model} {config.dtypes[0]}: {config.prompts} prompts per image end to end, "
                "upstream one prompt at a time beside the kit's batched prompts"),
        GpuStep("video", f"{config.model}: {video_model()}: text prompt + propagation on a "
                f"{config.video_frames}-frame {w}x{h} clip, frames/s (detection threshold {config.video_threshold}, "
                f"at most {config.video_max_objects} objects: random weights)"),
        GpuStep("counts", f"{config.model}: device ops and host syncs per prompt and per image"),
    ]


def revision() -> str:
    """The importable sam3's revision, as the blocks' names carry it ("no sam3" where none is installed)."""
    return detect_revision() or "no sam3"


def block_name(step: str, rev: str) -> str:
    """A result's name in the page and the JSON: the step and the sam3 revision it ran on."""
    return f"{PREFIX}{step} {rev}"


def video_model() -> str:
    """Which video model the video step builds, from the importable sam3."""
    rev = revision()
    if rev == "no sam3":
        return "no sam3 importable"
    if video_version(None) == "sam3.1":
        return f"SAM 3.1 multiplex video predictor ({rev})"
    return f"SAM 3 video predictor ({rev})"


def other_run() -> list[str]:
    """How to get the other sam3's rows: a second run of the suite, and what that machine must carry."""
    if revision() == SAM31:
        return ["the other sam3 (SAM 3 video, sam3==0.1.4): run the suite again without the sam3@96914d2 tree "
                f"on PYTHONPATH (the installed {WHEEL}); its blocks are named 'gpu <step> {WHEEL}'"]
    return [f"the other sam3 (SAM 3.1 multiplex video, {SAM31}): run the suite a second time with "
            f"'PYTHONPATH=<a {SAM31} tree> python tools/bench.py gpu'; its blocks are named 'gpu <step> {SAM31}'",
            f"  that machine carries the 3.1 tree as a folder (not on PyPI): '{SAM31_TREE_COMMAND}' elsewhere, "
            "then copy sam3-96914d2/ over",
            "  3.1 imports nothing beyond the packages listed below; optional: "
            f"{', '.join(SAM31_OPTIONAL)} (without it the kit runs 3.1's attention on SDPA)"]


def missing(packages: dict[str, str]) -> list[str]:
    return [dist for dist, module in packages.items() if importlib.util.find_spec(module) is None]


def bpe_problem(bpe: str | None) -> str | None:
    try:
        find_bpe(bpe)
    except NpuCompatError as err:
        return str(err)
    return None


def readiness(bpe: str | None = None) -> str | None:
    """Why this machine cannot run the plan (one line), or None."""
    if not torch.cuda.is_available():
        return ("no CUDA GPU visible (torch.cuda.is_available() is False); "
                "run 'tools/bench.py gpu --dry-run' to list the plan")
    lacking = missing(CARRIED_WHEELS)
    if lacking:
        return (f"missing {', '.join(lacking)}; on a machine with registry access run '{WHEEL_COMMAND}', "
                f"carry wheels/ over and run '{INSTALL_COMMAND}'")
    lacking = missing(IMAGE_PACKAGES)
    if lacking:
        return f"missing {', '.join(lacking)} (sam3 imports them); install them or use an image that has them"
    return bpe_problem(bpe)


def plan_text(config: BenchConfig, bpe: str | None = None) -> str:
    lines = ["tools/bench.py gpu would run, in one process on cuda (full-size model, random weights):"]
    lines += [f"  {i}. {step.name}: {step.what}" for i, step in enumerate(gpu_plan(config), 1)]
    lines += [f"sam3 here: {revision()}; the blocks are named 'gpu <step> {revision()}'"] + other_run()
    lacking = missing(CARRIED_WHEELS) + missing(IMAGE_PACKAGES)
    lines += [f"needs beside torch: {', '.join(CARRIED_WHEELS)} (carried as wheels), {', '.join(IMAGE_PACKAGES)}"
              + (f" (missing here: {', '.join(lacking)})" if lacking else " (all present here)"),
              f"  without registry access: '{WHEEL_COMMAND}' elsewhere, then '{INSTALL_COMMAND}'",
              f"BPE vocabulary: {bpe_problem(bpe) or 'found'}",
              f"GPU here: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"]
    return "\n".join(lines)


def run_gpu_from_cli(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from npu_compat import shim
    from npu_compat.cli_options import shim_options

    config = gpu_config(args.model or "sam3", argv, args.video_frames or 24)
    if args.dry_run:
        print(plan_text(config, args.bpe))
        return 0
    problem = readiness(args.bpe)
    if problem:
        print(f"bench gpu: error: {problem}", file=sys.stderr)
        return 2
    doc = args.update_doc or "docs/benchmarks.md"
    rev = revision()
    start = time.perf_counter()

    def write(results: list[Result]) -> None:
        results[-1].name = block_name(results[-1].name, rev)
        write_json(args.json, results)
        markdown.update_document(doc, results[-1:])
        print(f"bench gpu: {results[-1].name} done at {time.perf_counter() - start:.0f} s", file=sys.stderr)

    def apply() -> Any:
        options = shim_options(args)
        return shim.apply(options=options, device=options.device or "cuda")

    results = run_suite([step.name for step in gpu_plan(config)], config, apply, write)
    print(markdown.suite_markdown(results))
    print(f"bench gpu: wrote {args.json} and {doc} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


__all__ = ["CARRIED_WHEELS", "GpuStep", "gpu_config", "gpu_plan", "plan_text", "readiness", "run_gpu_from_cli",
           "revision", "block_name", "video_model", "other_run"]
