"""Checks after applying: touched files compile, no added line is duplicated near its
hunk (the misplaced insert fuzz causes), and `import sam3` works on CPU without triton and decord."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from npu_compat.patchset.applier import REJECT
from npu_compat.patchset.engine import PatchReport, read_lines
from npu_compat.patchset.hunks import Hunk
from npu_compat.patchset.series import Patch

# Lines too common to flag when repeated nearby (closing brackets, `else:`, `return x`...).
_MIN_SIGNIFICANT = 12


def compile_errors(tree: Path, relpaths: list[str]) -> list[str]:
    """One line per touched .py file that does not compile."""
    problems = []
    for rel in sorted(set(relpaths)):
        path = tree / rel
        if path.suffix != ".py" or not path.exists():
            continue
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        except SyntaxError as err:
            problems.append(f"{rel}:{err.lineno}: does not compile: {err.msg}")
    return problems


def duplicate_inserts(tree: Path, patch: Patch, report: PatchReport, window: int = 6) -> list[str]:
    """Added lines found more often within `window` lines of their hunk than this patch
    puts there: a copy that was already present survived (what a fuzzy apply causes)."""
    problems: list[str] = []
    if report.status == REJECT:  # nothing of a rejected patch was written; the reject is the failure
        return problems
    for change, file_report in zip(patch.files, report.files):
        path = tree / change.path
        if change.is_deleted or not path.exists():
            continue
        lines = read_lines(path)
        placed = [(hunk, result.line - 1) for hunk, result in zip(change.hunks, file_report.hunks)
                  if result.line is not None]
        for hunk, first in placed:
            start, stop = max(0, first - window), first + len(hunk.new_lines) + window
            near = lines[start:stop]
            for text in set(hunk.added):
                if len(text.strip()) < _MIN_SIGNIFICANT or text in hunk.old_lines:
                    continue
                expected = 0  # copies this patch's hunks put inside the window
                for other, other_first in placed:
                    for offset, line in enumerate(other.new_lines):
                        if start <= other_first + offset < stop and line == text and \
                                offset in _added_offsets(other):
                            expected += 1
                found = near.count(text)
                if found != expected:
                    problems.append(f"{patch.name}: {change.path}:{first + 1}: added line "
                                    f"{text.strip()!r} appears {found}x near its hunk, expected {expected}x")
    return problems


def _added_offsets(hunk: Hunk) -> set[int]:
    """Indexes into `hunk.new_lines` of the lines the hunk adds."""
    offsets, index = set(), 0
    for op, _ in hunk.ops:
        if op == "+":
            offsets.add(index)
        if op != "-":
            index += 1
    return offsets


# Both probes start here: import sam3 from the tree with triton and decord blocked.
_BLOCKED_IMPORT = r"""
import importlib.abc, sys
import torch  # torch probes for triton itself at import; block every later import of it (and decord)
BLOCKED = ("triton", "decord")  # absent on Ascend, macOS and CPU-wheel hosts
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} blocked: this check emulates a host without triton and decord")
sys.meta_path.insert(0, Blocked())
for name in [m for m in sys.modules if m.split(".")[0] in BLOCKED]:
    del sys.modules[name]
sys.path.insert(0, sys.argv[1])
import sam3
assert sam3.__file__.startswith(sys.argv[1]), sam3.__file__
"""
_IMPORT_PROBE = _BLOCKED_IMPORT + 'print("imported", sam3.__file__)\n'


def import_without_triton(tree: Path, timeout: float = 300) -> str | None:
    """None if `import sam3` from `tree` succeeds on CPU with triton and decord blocked, else the error line."""
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, str(Path(tree).resolve())],
                          capture_output=True, text=True, timeout=timeout,
                          env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""})
    if proc.returncode == 0:
        return None
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    return f"import sam3 without triton failed: {lines[-1] if lines else proc.returncode}"


_TINY_CPU_RUN = _BLOCKED_IMPORT + r"""import numpy as np
from PIL import Image
from sam3.model.sam3_image_processor import Sam3Processor
from npu_compat.sam3.tiny import build_tiny_sam3_image_model
torch.manual_seed(0)
model = build_tiny_sam3_image_model(seed=0).to("cpu").eval()
processor = Sam3Processor(model, confidence_threshold=0.0)  # no device argument: follows the model
image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8))
state = processor.set_text_prompt(prompt="person", state=processor.set_image(image))
state = processor.add_geometric_prompt(box=[0.5, 0.5, 0.5, 0.5], label=True, state=state)
scores = state["scores"]
assert len(scores) > 0 and bool(torch.isfinite(scores).all()) and scores.device.type == "cpu", scores
assert not any(m.startswith("npu_compat.shim") or m == "npu_compat.apply" for m in sys.modules)
print("tiny sam3 ran on cpu:", len(scores), "detections")
"""


def tiny_cpu_run(tree: Path, timeout: float = 600) -> str | None:
    """None if the tree's sam3 runs the tiny image model on CPU with no shim, triton and decord blocked
    (text then box prompt, default `Sam3Processor` device), else the error line."""
    repo = Path(__file__).resolve().parents[2]  # npu_compat itself, for the tiny model's builder
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(repo)}
    proc = subprocess.run([sys.executable, "-c", _TINY_CPU_RUN, str(Path(tree).resolve())], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=Path(tree).resolve())
    if proc.returncode == 0:
        return None
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    return f"tiny sam3 on cpu failed: {lines[-1] if lines else proc.returncode}"
