"""``msprobe compare`` on two dumps, and its table read back.

msprobe's own command lines the dumps up by call name and scores each tensor: Cosine, EucDist,
MaxAbsErr, MaxRelativeErr, the share of elements within 0.1% and 0.5% ("One Thousandth" and
"Five Thousandths Err Ratio"), and a Result per API or module (pass / warning / error). In tensor
mode msprobe marks a call ``error`` when its inputs agree (over 90% of elements within 0.1%) and
its output does not (under 10%), or when dtypes, shapes or inf/nan differ: the call where a
divergence starts, not every call after it.
"""
from __future__ import annotations

import csv
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from npu_compat.parity import ParityError

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class CompareRow:
    """One row of msprobe's table: one tensor of one call (``...forward.output.0``)."""
    name: str                 # the target ("NPU") side's tensor name
    bench_name: str
    dtype: str
    shape: str
    cosine: float
    max_abs_err: float
    max_rel_err: float
    one_thousandth: float     # share of elements within 0.1% relative error
    result: str               # pass / warning / error / "" (msprobe leaves it empty where it has no verdict)
    message: str

    @property
    def call(self) -> str:
        """``Functional.layer_norm.0.forward`` from ``Functional.layer_norm.0.forward.output.0``."""
        for marker in (".input", ".output", ".parameters"):
            if marker in self.name:
                return self.name.split(marker)[0]
        return self.name


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "", "N/A", "None", "unsupported") else math.nan
    except ValueError:
        return math.nan


def read_compare_table(path: str | Path) -> list[CompareRow]:
    """The rows of a ``compare_result_*.csv`` written by ``msprobe compare``."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            raw = list(csv.DictReader(handle))
    except OSError as err:
        raise ParityError(f"cannot read msprobe's compare table {path}: {err}") from None
    if raw and "Cosine" not in raw[0]:
        raise ParityError(f"{path} is not msprobe's tensor compare table (no Cosine column)")
    return [CompareRow(r.get("NPU Name", ""), r.get("Bench Name", ""), r.get("NPU Dtype", ""),
                       r.get("NPU Tensor Shape", ""), _number(r.get("Cosine")), _number(r.get("MaxAbsErr")),
                       _number(r.get("MaxRelativeErr")), _number(r.get("One Thousandth Err Ratio")),
                       (r.get("Result") or "").strip(), (r.get("Err_message") or "").strip())
            for r in raw]


def run_msprobe_compare(target: Path, golden: Path, out_dir: Path, timeout: float = 3600) -> Path:
    """Run ``msprobe compare -tp TARGET -gp GOLDEN -o OUT`` (msprobe's own command); its CSV's path.

    ``target`` and ``golden`` are the folders holding ``dump.json``; msprobe is given their parents
    (the ``step<N>`` folders, each with one ``proc*|rank*`` in it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    before = set(out_dir.glob("compare_result_*.csv"))
    command = [sys.executable, "-m", "msprobe.msprobe", "compare", "-tp", str(target.parent), "-gp", str(golden.parent),
               "-o", str(out_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    written = sorted(set(out_dir.glob("compare_result_*.csv")) - before)
    if done.returncode != 0 or not written:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line] or ["no table written"]
        raise ParityError(f"msprobe compare failed (exit {done.returncode}): {lines[-1].strip()[:300]}")
    return written[-1]


def failing_calls(rows: list[CompareRow]) -> list[str]:
    """The calls msprobe marked ``error``, in table order, each once."""
    seen: dict[str, None] = {}
    for row in rows:
        if row.result == ERROR:
            seen.setdefault(row.call, None)
    return list(seen)
