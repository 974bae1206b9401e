"""python -m npu_compat.parity: does this device compute what the CPU computes?

  capture   record every aten op a SAM3 image run calls into an inventory (JSON)
  replay    run each inventory entry on a device and on a CPU golden in higher precision
  e2e       compare the SAM3 image pipeline stage by stage: device vs CPU reference
  coverage  list the inventory ops that a torch_npu release has no NPU kernel for, and the ops
            SAM 3.1 needs that 0.1.4 did not (--compare NEW=OLD for any two inventories)
  dumps     compare two msprobe dumps (any model): msprobe compare, the kit's standards, report.html

Examples:
  python -m npu_compat.parity capture --model tiny --out inv.json
  python -m npu_compat.parity replay --inventory inv.json --device cuda --dtype bf16 --out-md replay.md
  python -m npu_compat.parity e2e --model sam3 --checkpoint sam3.pt --device npu --precision bf16
  python -m npu_compat.parity coverage --out-md coverage.md
  python -m npu_compat.parity e2e --model tiny --msprobe-dir out/ --plant-fault layer_norm_eps
  python -m npu_compat.parity dumps --golden gpu_dump/ --device npu_dump/ --out-dir out/

--model is sam3 (the full model; 'full' is accepted as an old name) or tiny, as in tools/.

Exit status: 0 pass, 1 parity failure, 2 usage or setup error (one line on stderr).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npu_compat.cli_options import device_spec
from npu_compat.errors import KernelListError, NpuCompatError
from npu_compat.parity import ParityError
from npu_compat.parity.sam3_runs import DEFAULT_RUNS, RUNS
from npu_compat.workloads.checkpoints import PARTIAL_FLAG
from npu_compat.workloads.cli_parser import OneLineParser, quiet_upstream_warnings
from npu_compat.output_paths import check_output_dir
from npu_compat.workloads.inputs import InputError, check_readable_file, positive_int, prompt_text, seed

DATA = Path(__file__).resolve().parent.parent / "data"
DEFAULT_INVENTORIES = {"tiny SAM3, fp32": DATA / "sam3_inventory_tiny_fp32.json",
                       "tiny SAM3, bf16 autocast": DATA / "sam3_inventory_tiny_bf16.json"}
# SAM 3.1 (sam3@96914d2) against 0.1.4: (label, 3.1 inventory, 0.1.4 label, 0.1.4 inventory)
DEFAULT_COMPARISONS = (
    ("tiny SAM 3.1 image, fp32", DATA / "sam31_inventory_tiny_fp32.json",
     "tiny SAM3 0.1.4 image, fp32", DATA / "sam3_inventory_tiny_fp32.json"),
    ("tiny SAM 3.1 image, bf16 autocast", DATA / "sam31_inventory_tiny_bf16.json",
     "tiny SAM3 0.1.4 image, bf16 autocast", DATA / "sam3_inventory_tiny_bf16.json"),
    ("tiny SAM 3.1 multiplex video", DATA / "sam31_inventory_tiny_video.json",
     "tiny SAM3 0.1.4 video", DATA / "sam3_inventory_tiny_video.json"),
)
DTYPES = {"as-captured": None, "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def _check_inputs(args: argparse.Namespace) -> None:
    """Checkpoint and output paths, before any model is built (or sam3 imported)."""
    from npu_compat.workloads.checkpoints import read_checkpoint
    from npu_compat.workloads.inputs import check_output_file

    runs = getattr(args, "runs", None)
    if runs is not None:
        bad = [r for r in runs.split(",") if r not in RUNS]
        if bad:
            raise InputError(f"--runs {runs!r}: {', '.join(repr(b) for b in bad)} is not a run",
                             f"give a comma-separated list of {','.join(RUNS)}")
    inventories = getattr(args, "inventory", None)
    for inventory in [inventories] if isinstance(inventories, str) else inventories or []:
        check_readable_file(inventory, "inventory", missing_fix="write one with: python -m npu_compat.parity "
                            "capture --out FILE")
    for spec in getattr(args, "compare", None) or []:
        new, sep, old = spec.partition("=")
        if not sep or not new or not old:
            raise InputError(f"--compare {spec!r} is not NEW=OLD", "give two inventory files: the new run's, then "
                             "the one it is compared with (--compare inv31.json=inv014.json)")
        for path in (new, old):
            check_readable_file(path, "--compare inventory", missing_fix="write one with: python -m "
                                "npu_compat.parity capture --out FILE")
    for name in ("out", "out_json", "out_md"):
        if getattr(args, name, None):
            check_output_file(getattr(args, name), "--" + name.replace("_", "-"))
    if hasattr(args, "plant_fault"):  # e2e
        _check_msprobe(args)
    if getattr(args, "checkpoint", None):
        read_checkpoint(args.checkpoint)  # memory-mapped: cheap; a file that is not a checkpoint stops here


def _capture(args: argparse.Namespace) -> int:
    from npu_compat.parity.sam3_runs import capture_sam3

    inventory = capture_sam3(args.model, args.device, tuple(args.runs.split(",")), args.autocast == "bf16",
                             record_ranges=not args.no_ranges, seed=args.seed, checkpoint=args.checkpoint,
                             allow_partial=args.allow_partial_checkpoint)
    inventory.save(args.out)
    print(f"captured {len(inventory)} distinct calls of {len(inventory.ops())} ops "
          f"({sum(e.count for e in inventory)} calls) -> {args.out}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    import torch

    from npu_compat.parity.inventory import Inventory
    from npu_compat.parity.replay import replay_inventory
    from npu_compat.parity.report import replay_summary, write_replay_report

    inventory = Inventory.load(args.inventory)
    override = getattr(torch, DTYPES[args.dtype]) if DTYPES[args.dtype] else None
    _check_device(args.device)
    results = replay_inventory(inventory, args.device, args.seed, override, progress=not args.quiet)
    note = f"fp32 inputs as {args.dtype}" if override else "dtypes as captured"
    summary = replay_summary(results, args.device, note)
    write_replay_report(results, summary, {"inventory": str(args.inventory), "device": args.device,
                                           "dtype": args.dtype, "seed": args.seed, **inventory.meta},
                        args.out_json, args.out_md, args.limit)
    print(summary)
    return 0 if summary.startswith("replay PASS") else 1


def _check_msprobe(args: argparse.Namespace) -> None:
    """e2e's msprobe and fault options, before any model is built."""
    from npu_compat.parity.msprobe_dump import find_dump_dir, require_msprobe
    from npu_compat.parity.planted_faults import FAULTS

    if args.plant_fault and args.plant_fault not in FAULTS:
        raise ParityError(f"unknown --plant-fault {args.plant_fault!r}; choose one of {', '.join(sorted(FAULTS))}")
    if (args.golden_dump or args.device_dump) and not args.msprobe_dir:
        raise ParityError("--golden-dump and --device-dump need --msprobe-dir (where the comparison is written)")
    if not args.msprobe_dir:
        return
    if args.precision != "fp32" or args.reference != "fp32":
        raise ParityError("msprobe compares runs of the same dtype: use --precision fp32 --reference fp32 "
                          "with --msprobe-dir")
    check_output_dir(args.msprobe_dir, "--msprobe-dir")
    require_msprobe()
    for dump in (args.golden_dump, args.device_dump):
        if dump:
            find_dump_dir(dump)


def _device_label(device: str) -> str:
    """What ran behind 'npu': ``npu (simulated npu (torch_npu X))`` or ``npu (torch_npu X)``."""
    if not device.startswith("npu"):
        return device
    from npu_compat.npu import backend_label

    return f"{device} ({backend_label()})"


def _e2e_msprobe(args: argparse.Namespace) -> int:
    from npu_compat.parity.msprobe_run import SideSpec, e2e_msprobe

    spec = SideSpec(args.model, args.device, args.checkpoint, args.seed, tuple(args.prompt), args.boxes,
                    args.plant_fault, args.allow_partial_checkpoint)
    result = e2e_msprobe(spec, args.msprobe_dir, args.golden_dump, args.device_dump,
                         device_label=_device_label(args.device),
                         progress=lambda text: print(text, file=sys.stderr, flush=True))
    print(result.summary())
    print(f"msprobe table: {result.compare_csv}\nreport: {result.out_dir / 'report.html'}")
    return 0 if result.passed and result.verdict.msprobe_passed else 1


def _dumps(args: argparse.Namespace) -> int:
    from npu_compat.parity.msprobe_dump import find_dump_dir
    from npu_compat.parity.msprobe_run import compare_dumps

    golden, device = find_dump_dir(args.golden), find_dump_dir(args.device)
    result = compare_dumps(golden, device, args.out_dir, f"msprobe dumps: {device} vs golden {golden}")
    print(result.summary())
    print(f"msprobe table: {result.compare_csv}\nreport: {result.out_dir / 'report.html'}")
    return 0 if result.passed and result.verdict.msprobe_passed else 1


def _e2e(args: argparse.Namespace) -> int:
    from npu_compat.atomic_files import write_json_atomic, write_text_atomic
    from npu_compat.parity.pipeline import synthetic_inputs
    from npu_compat.parity.report import e2e_markdown
    from npu_compat.parity.sam3_runs import e2e_sam3

    _check_device(args.device)
    if args.msprobe_dir:
        return _e2e_msprobe(args)
    inputs = synthetic_inputs(args.seed, prompts=tuple(args.prompt), with_boxes=args.boxes)
    result = e2e_sam3(args.model, args.device, args.precision, args.reference, inputs, args.checkpoint, args.seed,
                      allow_partial=args.allow_partial_checkpoint, fault=args.plant_fault)
    result.device = _device_label(args.device)
    if args.out_json:
        write_json_atomic(args.out_json, result.as_dict())
    if args.out_md:
        write_text_atomic(args.out_md, e2e_markdown(result))
    print(result.summary())
    return 0 if result.passed else 1


def _comparisons(args: argparse.Namespace) -> list[tuple[str, Path, str, Path]]:
    """``--compare NEW=OLD`` pairs, or the committed 3.1-vs-0.1.4 ones when no inventory is named."""
    if args.compare:
        pairs = [spec.partition("=")[::2] for spec in args.compare]  # checked by _check_inputs
        return [(Path(new).stem, Path(new), Path(old).stem, Path(old)) for new, old in pairs]
    return [] if args.inventory else list(DEFAULT_COMPARISONS)


def _coverage(args: argparse.Namespace) -> int:
    from npu_compat.parity.coverage import coverage_report
    from npu_compat.atomic_files import write_json_atomic, write_text_atomic
    from npu_compat.parity.inventory import Inventory
    from npu_compat.parity.new_ops import new_ops_report
    from npu_compat.npu_releases.kernels import available_versions, load_kernel_list
    from npu_compat.parity.report import coverage_markdown

    inventories = {Path(p).stem: Path(p) for p in args.inventory} if args.inventory else DEFAULT_INVENTORIES
    versions = args.torch_npu or available_versions()
    reports, comparisons = [], []
    for label, path in inventories.items():
        inventory = Inventory.load(path)
        for version in versions:
            report = coverage_report(inventory, load_kernel_list(version))
            reports.append((label, report))
            print(f"{label}: {report.summary()}")
    for label, path, base_label, base_path in _comparisons(args):
        inventory, baseline = Inventory.load(path), Inventory.load(base_path)
        for version in versions:
            comparison = new_ops_report(label, inventory, base_label, baseline, load_kernel_list(version))
            comparisons.append(comparison)
            print(f"{label}: {comparison.summary()}")
    command = " ".join(["python -m npu_compat.parity coverage --out-md docs/npu-coverage.md"]
                       + [f"--inventory {p}" for p in args.inventory or ()]
                       + [f"--compare {c}" for c in args.compare or ()]
                       + [f"--torch-npu {v}" for v in args.torch_npu or ()])
    if args.out_md:
        write_text_atomic(args.out_md, coverage_markdown(reports, command, comparisons))
    if args.out_json:
        write_json_atomic(args.out_json, [{"inventory": label, **r.as_dict()} for label, r in reports]
                          + [c.as_dict() for c in comparisons])
    if not args.out_md and not args.out_json:
        print("(no file written: pass --out-md FILE for the Markdown tables, --out-json FILE for JSON)")
    return 0


def _check_device(device: str) -> None:
    """Resolve the device the way the shim does (loads torch_npu for 'npu'); one-line errors."""
    from npu_compat.errors import NpuCompatError
    from npu_compat.target import resolve_target

    try:
        resolve_target(device)
    except NpuCompatError as err:
        raise ParityError(str(err)) from None


MODEL_HELP = "sam3 (the full model; 'full' is an old name for it) or tiny (the small test model)"


def _model(text: str) -> str:
    """``sam3``/``tiny`` as in every tool; ``full`` is kept as an alias. Internally the full model is 'full'."""
    names = {"sam3": "full", "full": "full", "tiny": "tiny"}
    if text not in names:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from 'sam3', 'tiny')")
    return names[text]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m npu_compat.parity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    cap = sub.add_parser("capture", help="record the aten ops of SAM3 image runs")
    cap.add_argument("--model", type=_model, default="tiny", help=MODEL_HELP)
    cap.add_argument("--checkpoint", help="sam3.pt for the full model (random init without it)")
    cap.add_argument(PARTIAL_FLAG, action="store_true", help="load a checkpoint whose keys match only in part")
    cap.add_argument("--device", type=device_spec, default="cpu", help="device to run on (cpu, cuda, npu, xpu, mps)")
    cap.add_argument("--autocast", choices=("none", "bf16"), default="none", help="run under bf16 autocast")
    cap.add_argument("--runs", default=",".join(DEFAULT_RUNS),
                     help="comma-separated: image,text,box,batched, or video (the tiny video model of the "
                          "importable sam3: SAM 3.1's multiplex one on sam3@96914d2)")
    cap.add_argument("--no-ranges", action="store_true", help="do not record value ranges (faster on big runs)")
    cap.add_argument("--seed", type=seed, default=0)
    cap.add_argument("--out", required=True, help="inventory JSON to write")
    cap.set_defaults(run=_capture)

    rep = sub.add_parser("replay", help="replay an inventory on a device against a CPU golden")
    rep.add_argument("--inventory", required=True)
    rep.add_argument("--device", type=device_spec, default="cpu")
    rep.add_argument("--dtype", choices=tuple(DTYPES), default="as-captured",
                     help="run fp32 inputs in this dtype (golden one step wider); default: as captured")
    rep.add_argument("--seed", type=seed, default=0, help="seed for regenerated inputs")
    rep.add_argument("--out-json")
    rep.add_argument("--out-md")
    rep.add_argument("--limit", type=positive_int, default=40, help="rows in the Markdown table (worst first)")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    rep.set_defaults(run=_replay)

    e2e = sub.add_parser("e2e", help="stage-wise SAM3 pipeline parity: device vs CPU")
    e2e.add_argument("--model", type=_model, default="tiny", help=MODEL_HELP)
    e2e.add_argument("--checkpoint", help="sam3.pt for the full model (random init without it)")
    e2e.add_argument(PARTIAL_FLAG, action="store_true", help="load a checkpoint whose keys match only in part")
    e2e.add_argument("--device", type=device_spec, default="cpu")
    from npu_compat.npu import SimulateAction

    e2e.add_argument("--simulate", action=SimulateAction, metavar="torch_npu==X",
                     help="npu: the simulated npu, a test double of torch_npu X on the host (docs/simulated-npu.md)")
    e2e.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                     help="device run: IEEE fp32 (TF32/HF32 off) or bf16 autocast")
    e2e.add_argument("--reference", choices=("fp32", "fp64"), default="fp32", help="CPU reference precision")
    e2e.add_argument("--prompt", action="append", default=None, type=prompt_text, help="text prompt (repeatable)")
    e2e.add_argument("--boxes", action="store_true", help="add one box prompt per text prompt")
    e2e.add_argument("--seed", type=seed, default=0)
    e2e.add_argument("--out-json")
    e2e.add_argument("--out-md")
    e2e.add_argument("--plant-fault", metavar="NAME",
                     help="self-check: the device run uses a deliberately wrong fp32 kernel (layer_norm_eps, "
                          "softmax_wrong_dim; docs/parity.md)")
    e2e.add_argument("--msprobe-dir", help="also dump both sides with msprobe (fp32), run msprobe compare, and "
                                           "write its table, verdict.json and report.html here")
    e2e.add_argument("--golden-dump", help="with --msprobe-dir: an msprobe dump to use as the CPU golden")
    e2e.add_argument("--device-dump", help="with --msprobe-dir: an msprobe dump to use as the device side "
                                           "(taken on an Ascend machine, say)")
    e2e.set_defaults(run=_e2e)

    dmp = sub.add_parser("dumps", help="compare two msprobe dumps of any model: msprobe compare + the kit's standards")
    dmp.add_argument("--golden", required=True, help="msprobe dump folder (step*/proc*|rank*/dump.json) of the golden")
    dmp.add_argument("--device", required=True, help="msprobe dump folder of the device run")
    dmp.add_argument("--out-dir", required=True, help="where msprobe's table, verdict.json and report.html go")
    dmp.set_defaults(run=_dumps)

    cov = sub.add_parser("coverage", help="inventory ops without NPU kernels in torch_npu releases")
    cov.add_argument("--inventory", action="append", help="inventory JSON (repeatable; default: committed tiny SAM3)")
    cov.add_argument("--compare", action="append", metavar="NEW=OLD",
                     help="also list the ops inventory NEW calls that inventory OLD did not, and what the kit does "
                          "about each (repeatable; default: the committed SAM 3.1 inventories against 0.1.4's)")
    cov.add_argument("--torch-npu", action="append", help="torch_npu version or kernel-list JSON (default: all kept)")
    cov.add_argument("--out-md", help="write the Markdown tables here (the repo's copy is docs/npu-coverage.md)")
    cov.add_argument("--out-json")
    cov.set_defaults(run=_coverage)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_upstream_warnings()
    args = build_parser().parse_args(argv)
    if getattr(args, "prompt", ()) is None:
        args.prompt = ["a cat", "a dog"]
    try:
        _check_inputs(args)
        return args.run(args)
    except (ParityError, KernelListError, NpuCompatError, ValueError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
