"""SAM3 end to end in msprobe's terms: each side dumped by msprobe in a process of its own.

``e2e_msprobe`` runs the CPU reference ("golden") and the device side each in a child process
(msprobe's debugger is one per process and hooks torch for good), with the same seed, model and
inputs as ``parity e2e``. Each child builds the model under the shim, runs the stages inside
``PrecisionDebugger`` and saves the stage tensors; then ``msprobe compare`` lines up the two dumps
and the kit judges them (:mod:`npu_compat.parity.dump_verdict`) and compares the stages
(:mod:`npu_compat.parity.e2e`).

Either side may instead be a dump taken elsewhere (msprobe on an Ascend machine): pass its folder
and that side is not run here. The stage comparison needs the stage tensors that the kit saves
beside its own dumps (``stages.pt``); for a dump from elsewhere it is left out.

Layout of ``out_dir``::

    golden/step0/proc<pid>/...   msprobe dump of the CPU reference (unless given)
    device/step0/proc<pid>/...   msprobe dump of the device run (unless given)
    compare/compare_result_*.csv msprobe compare's table
    verdict.json                 the kit's verdict (stages, per-op rows, first divergent op)
    report.html                  the same, to look at
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from npu_compat.parity import ParityError
from npu_compat.parity.e2e import E2EResult, compare_pipelines
from npu_compat.parity.msprobe_compare import read_compare_table, run_msprobe_compare
from npu_compat.parity.msprobe_dump import MsprobeDump, dumping, require_msprobe
from npu_compat.atomic_files import atomic_path, write_json_atomic
from npu_compat.npu import SIMULATE_ENV
from npu_compat.parity.dump_verdict import DumpVerdict, judge_dumps
from npu_compat.parity.html_report import write_html_report
from npu_compat.parity.pipeline import run_pipeline, synthetic_inputs
from npu_compat.parity.planted_faults import planted_fault
from npu_compat.parity.sam3_runs import build_model, sam3_on

STAGES_FILE = "stages.pt"


@dataclass(frozen=True)
class SideSpec:
    """What one side runs; the same for both but for the device (and the planted fault)."""
    model: str = "tiny"
    device: str = "cpu"
    checkpoint: str | None = None
    seed: int = 0
    prompts: tuple[str, ...] = ("a cat", "a dog")
    boxes: bool = False
    fault: str | None = None       # a planted fault, wrong for fp32 on this side only
    allow_partial: bool = False    # load a checkpoint whose keys match only in part


def run_side(spec: SideSpec, dump_path: Path) -> None:
    """In this process: build, run the stages inside msprobe's debugger, save the stage tensors."""
    inputs = synthetic_inputs(spec.seed, prompts=spec.prompts, with_boxes=spec.boxes)
    with sam3_on(spec.device):
        model = build_model(spec.model, spec.checkpoint, spec.seed, spec.allow_partial)
        with planted_fault(spec.fault, torch.float32) if spec.fault else contextlib.nullcontext():
            stages = run_pipeline(model, inputs, spec.device, "fp32", around=lambda runner: dumping(dump_path, runner))
    with atomic_path(dump_path / STAGES_FILE) as temporary:
        torch.save(stages, temporary)


def _spawn_side(spec: SideSpec, dump_path: Path, timeout: float) -> None:
    dump_path.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "npu_compat.parity.msprobe_run", str(dump_path), json.dumps(spec.__dict__)]
    env = dict(os.environ)
    if torch.device(spec.device).type != "npu":
        env.pop(SIMULATE_ENV, None)  # the CPU golden runs without the simulated torch_npu on its path
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0 or not (dump_path / STAGES_FILE).is_file():
        tail = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["no output"]
        raise ParityError(f"the {spec.device} side of the msprobe dump failed (exit {done.returncode}): "
                          f"{tail[0][:300]}")


@dataclass
class MsprobeE2E:
    out_dir: Path
    golden: Path
    device: Path
    compare_csv: Path
    verdict: DumpVerdict
    stages: E2EResult | None

    @property
    def passed(self) -> bool:
        """The kit's verdict: the per-op rows and, when both sides ran here, every stage."""
        return self.verdict.passed and (self.stages is None or self.stages.passed)

    def summary(self) -> str:
        lines = [self.verdict.summary()]
        if self.stages is not None:
            lines.append(self.stages.summary())
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"passed": self.passed, "golden_dump": str(self.golden), "device_dump": str(self.device),
                "msprobe_compare_csv": str(self.compare_csv), "ops": self.verdict.as_dict(),
                "stages": self.stages.as_dict() if self.stages is not None else None}


def compare_dumps(golden: str | Path, device: str | Path, out_dir: str | Path, title: str,
                  stages: E2EResult | None = None, timeout: float = 3600) -> MsprobeE2E:
    """Two msprobe dumps from anywhere: ``msprobe compare``, the kit's verdict, verdict.json, report.html."""
    require_msprobe()
    out = Path(out_dir)
    golden_run, device_run = MsprobeDump.load(golden), MsprobeDump.load(device)
    csv = run_msprobe_compare(device_run.directory, golden_run.directory, out / "compare", timeout)
    verdict = judge_dumps(device_run, golden_run, read_compare_table(csv))
    result = MsprobeE2E(out, golden_run.directory, device_run.directory, csv, verdict, stages)
    write_json_atomic(out / "verdict.json", result.as_dict())
    links = {"msprobe compare table": os.path.relpath(csv, out),
             "golden dump.json": os.path.relpath(golden_run.directory / "dump.json", out),
             "device dump.json": os.path.relpath(device_run.directory / "dump.json", out)}
    write_html_report(out / "report.html", title, verdict, stages, links)
    return result


def e2e_msprobe(spec: SideSpec, out_dir: str | Path, golden_dump: str | Path | None = None,
                device_dump: str | Path | None = None, timeout: float = 3600,
                device_label: str | None = None, progress: Callable[[str], None] | None = None) -> MsprobeE2E:
    """Dump the sides not given (each in its own process), then :func:`compare_dumps`.

    ``device_label`` names the device in the report ("npu (simulated npu (torch_npu X))");
    ``progress`` is told what starts (each step takes minutes on the full model).
    """
    say = progress or (lambda text: None)
    require_msprobe()
    out = Path(out_dir)
    golden = Path(golden_dump) if golden_dump else out / "golden"
    device = Path(device_dump) if device_dump else out / "device"
    for side, given in ((golden, golden_dump), (device, device_dump)):
        if not given and side.exists() and any(side.iterdir()):
            raise ParityError(f"{side} already holds a dump; give a new or empty --msprobe-dir")
    if not golden_dump:
        say(f"msprobe: dumping the cpu golden into {golden}")
        _spawn_side(SideSpec(**{**spec.__dict__, "device": "cpu", "fault": None}), golden, timeout)
    if not device_dump:
        say(f"msprobe: dumping the {device_label or spec.device} run into {device}")
        _spawn_side(spec, device, timeout)
    say("msprobe compare, then the kit's standards on every call")
    stages = None
    if (device / STAGES_FILE).is_file() and (golden / STAGES_FILE).is_file():  # both sides dumped by the kit
        stages = compare_pipelines(torch.load(device / STAGES_FILE, weights_only=True),
                                   torch.load(golden / STAGES_FILE, weights_only=True), "fp32",
                                   device=device_label or spec.device, reference="cpu (fp32)")
    fault = f", planted fault {spec.fault}" if spec.fault and not device_dump else ""
    shown = f"the dump in {device_dump}" if device_dump else device_label or spec.device
    against = f"the golden dump in {golden_dump}" if golden_dump else "cpu golden"
    title = f"{spec.model} SAM3 parity: {shown} vs {against} (fp32{fault})"
    return compare_dumps(golden, device, out, title, stages, timeout)


def main(argv: list[str] | None = None) -> int:
    """Child entry: ``python -m npu_compat.parity.msprobe_run DUMP_PATH SPEC_JSON``."""
    parser = argparse.ArgumentParser(prog="python -m npu_compat.parity.msprobe_run")
    parser.add_argument("dump_path", type=Path)
    parser.add_argument("spec")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec)
    spec["prompts"] = tuple(spec["prompts"])
    run_side(SideSpec(**spec), args.dump_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
