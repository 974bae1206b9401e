"""Benchmarks of the shim's own cost: apply time, per-call overhead, and a full SAM3 step.

Every comparison is measured in one process, interleaving shim-on and shim-off rounds, and
reported as a ratio or a difference, because these machines are noisy.
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from dataclasses import dataclass
from typing import Any, Callable

import torch


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    note: str = ""

    def row(self) -> str:
        return f"| {self.name} | {self.value:.4g} {self.unit} | {self.note} |"


def apply_time(rounds: int = 20) -> list[Measurement]:
    """Cold first apply (fresh interpreter, torch already imported) and warm apply/revert cycles."""
    code = ("import time, torch; t=time.perf_counter(); import npu_compat; s=npu_compat.apply(device='cpu', log_level='quiet');"
            "print(time.perf_counter()-t, s.apply_seconds)")
    cold = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        cold.append(float(out.stdout.split()[0]))
    import npu_compat

    npu_compat.revert()
    warm = []
    for _ in range(rounds):
        t = time.perf_counter()
        npu_compat.apply(device="cpu", log_level="quiet")
        warm.append(time.perf_counter() - t)
        npu_compat.revert()
    return [
        Measurement("apply(), first in a process (import of the kit included)", statistics.median(cold) * 1e3, "ms", "median of 3 processes"),
        Measurement("apply(), again after revert()", statistics.median(warm) * 1e3, "ms", f"median of {rounds}"),
    ]


_APPLY_COST = """
import json, sys, time
import torch
try:
    import sam3, sam3.model_builder  # a SAM3 script has these imported when it applies the shim
except ImportError as err:
    sys.exit(f"sam3 is not importable here: {err}")
w0, c0 = time.perf_counter(), time.process_time()
import npu_compat
import npu_compat.shim
w1, c1 = time.perf_counter(), time.process_time()
session = npu_compat.apply(device="cpu", log_level="quiet")
w2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_wall": w1 - w0, "import_cpu": c1 - c0, "apply_wall": w2 - w1, "apply_cpu": c2 - c1,
                  "rules": len(session.report.rules), "packs": session.report.packs}))
"""


def apply_cost(processes: int = 7) -> list[Measurement]:
    """Cold ``apply()`` with torch and sam3 already imported, in fresh processes: wall and CPU time.

    CPU time (``time.process_time``) is what the process itself spent, so it holds on a loaded
    machine where wall time does not. The kit's own import is timed apart from ``apply()``.
    """
    runs = []
    for _ in range(processes):
        out = subprocess.run([sys.executable, "-c", _APPLY_COST], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"apply-cost process failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs) * 1e3

    def spread(key: str) -> str:
        return ", ".join(f"{r[key] * 1e3:.0f}" for r in runs)

    bytecode = "no .pyc written (PYTHONDONTWRITEBYTECODE)" if sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE") else ".pyc cached"
    note = f"median of {processes} processes, torch + sam3 imported first, {runs[0]['rules']} rules, packs {runs[0]['packs']}; {bytecode}"
    return [
        Measurement("apply(), cold, sam3 imported: wall", med("apply_wall"), "ms", f"{note}; each: {spread('apply_wall')}"),
        Measurement("apply(), cold, sam3 imported: CPU time", med("apply_cpu"), "ms", f"each: {spread('apply_cpu')}"),
        Measurement("import npu_compat.shim before it: wall", med("import_wall"), "ms", f"each: {spread('import_wall')}"),
        Measurement("import npu_compat.shim before it: CPU time", med("import_cpu"), "ms", f"each: {spread('import_cpu')}"),
    ]


def _ns_per_call(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9


def call_overhead(number: int = 20000) -> list[Measurement]:
    """ns per call with the shim on minus off, for pass-through and redirected calls."""
    import npu_compat

    x = torch.ones(4)
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("torch.zeros(4) (no device: pass-through)", lambda: torch.zeros(4), lambda: torch.zeros(4)),
        ("torch.zeros(4, device='cpu') (checked, not redirected)", lambda: torch.zeros(4, device="cpu"), lambda: torch.zeros(4, device="cpu")),
        ("torch.zeros(4, device='cuda') -> cpu (redirected + counted)", lambda: torch.zeros(4, device="cuda"), lambda: torch.zeros(4, device="cpu")),
        ("x.to('cpu') (checked, not redirected)", lambda: x.to("cpu"), lambda: x.to("cpu")),
        ("x.to('cuda') -> cpu (redirected + counted)", lambda: x.to("cuda"), lambda: x.to("cpu")),
        ("x.to(torch.float16) (dtype: pass-through)", lambda: x.to(torch.float16), lambda: x.to(torch.float16)),
    ]
    results = []
    npu_compat.revert()
    for name, shimmed, plain in cases:
        offs, ons = [], []
        for _ in range(3):
            offs.append(_ns_per_call(plain, number))
            npu_compat.apply(device="cpu", log_level="quiet")
            ons.append(_ns_per_call(shimmed, number))
            npu_compat.revert()
        off, on = min(offs), min(ons)
        results.append(Measurement(name, on - off, "ns/call", f"{off:.0f} ns off, {on:.0f} ns on"))
    npu_compat.apply(device="cpu", log_level="quiet")
    sync = _ns_per_call(torch.cuda.synchronize, number)
    npu_compat.revert()
    results.append(Measurement("torch.cuda.synchronize() -> cpu stand-in (redirected + counted)", sync, "ns/call", "absolute"))
    return results


def sam3_step_ratio(patched_tree: str, rounds: int = 3, prompt: str = "cat") -> list[Measurement]:
    """Full-size SAM3 ``set_image`` + one text prompt, shim on vs off, same model, one process.

    ``patched_tree`` is sam3 with this kit's patch series applied (``tools/verify_patches.py
    apply --out DIR``), so explicit ``device="cpu"`` runs with no redirect needed and the
    shim-off rounds are real. With the shim on, every wrapper sits in the call path but no
    rule fires in the hot path.
    """
    sys.path.insert(0, patched_tree)
    import sam3
    from sam3.model.sam3_image_processor import Sam3Processor
    from sam3.model_builder import build_sam3_image_model

    import npu_compat
    from npu_compat.sam3.tiny import init_uninitialised_text_params
    from npu_compat.sam3.vocab import find_bpe

    if not sam3.__file__.startswith(patched_tree):
        raise RuntimeError(f"sam3 imported from {sam3.__file__}, not the patched tree {patched_tree}")
    torch.manual_seed(0)
    model = build_sam3_image_model(bpe_path=str(find_bpe()), device="cpu", load_from_HF=False, checkpoint_path=None)
    init_uninitialised_text_params(model, torch.Generator().manual_seed(0))
    processor = Sam3Processor(model, device="cpu")
    from skimage import data
    from PIL import Image

    image = Image.fromarray(data.astronaut())

    def step() -> tuple[float, float]:
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        state = processor.set_image(image)
        processor.set_text_prompt(prompt=prompt, state=state)
        return time.perf_counter() - wall, time.process_time() - cpu

    npu_compat.revert()
    step()  # warm-up, shim off
    times: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    fired: dict[str, int] = {}
    for r in range(rounds):
        for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
            if mode == "on":
                session = npu_compat.apply(device="cpu", log_level="quiet")
                times[mode].append(step())
                for site in session.report.sites.values():
                    fired[site.rule] = fired.get(site.rule, 0) + site.count
                npu_compat.revert()
            else:
                times[mode].append(step())

    def med(mode: str, i: int) -> float:
        return statistics.median(t[i] for t in times[mode])

    def fmt(mode: str, i: int) -> str:
        return ", ".join(f"{t[i]:.1f}" for t in times[mode])

    return [
        Measurement("SAM3 full: set_image + 1 text prompt, shim off, CPU time", med("off", 1), "s", f"median of {rounds}: {fmt('off', 1)}"),
        Measurement("SAM3 full: set_image + 1 text prompt, shim on, CPU time", med("on", 1), "s", f"median of {rounds}: {fmt('on', 1)}"),
        Measurement("ratio on/off, CPU time", med("on", 1) / med("off", 1), "x", "process CPU time: robust to other jobs"),
        Measurement("ratio on/off, wall time", med("on", 0) / med("off", 0), "x",
                    f"wall s off: {fmt('off', 0)}; on: {fmt('on', 0)}"),
        Measurement("rules that fired in the on rounds", sum(fired.values()), "calls", str(fired) or "none"),
    ]
