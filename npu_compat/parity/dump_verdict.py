"""The kit's verdict on two msprobe dumps: per-op-class standards, the first divergent op and stage.

msprobe's compare scores every tensor with one set of thresholds. On top of its table, the kit
judges each API call of the device dump by the standard of its op class (bit-exact, ULP, conv,
elementwise, cosine; :mod:`npu_compat.parity.standards`), against the same call in the golden dump:

- ``pass``: every output meets its class standard;
- ``fail``: an output misses it while every tensor input still agrees (meets the cosine-class
  standard of its dtype): this call is where a divergence starts;
- ``inherited``: an output misses it, but its inputs already differed: a divergence from earlier.

The first ``fail`` in call order is the first divergent op, shown with its call site (from
``stack.json``) and its stage: the module two levels below the model (``backbone.vision_backbone``),
from ``construct.json``. Calls present on one side only are ``unmatched`` and are not judged.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from npu_compat.parity.judge import FAIL, PASS, judge_tensor, worst
from npu_compat.parity.msprobe_compare import CompareRow, failing_calls
from npu_compat.parity.msprobe_dump import ApiCall, MsprobeDump
from npu_compat.parity.standards import OpClass, classify

INHERITED, UNMATCHED = "inherited", "unmatched"
# msprobe names Tensor methods by their Python dunder; the kit's op classes use aten base names.
_DUNDER_OPS = {"truediv": "div", "rtruediv": "div", "itruediv": "div", "radd": "add", "iadd": "add",
               "rmul": "mul", "imul": "mul", "isub": "sub", "rsub": "rsub", "rpow": "pow", "ipow": "pow",
               "getitem": "index", "setitem": "index_put", "rmatmul": "matmul", "invert": "bitwise_not",
               "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor"}


def op_class_of(api: str) -> OpClass:
    """``Functional.layer_norm`` -> cosine, ``Torch.matmul`` -> ulp, ``Tensor.__add__`` -> elementwise."""
    parts = api.split(".")
    base = parts[1] if len(parts) > 1 else parts[0]
    if base.startswith("__") and base.endswith("__"):
        base = base.strip("_")
        base = _DUNDER_OPS.get(base, base)
    return classify(f"aten.{base}.default")


def stage_of(module: str | None) -> str:
    """``Module.backbone.vision_backbone.trunk.blocks.0.Block.forward.0`` -> ``backbone.vision_backbone``."""
    if not module or not module.startswith("Module."):
        return "(model)"
    path = module.split(".")[1:-3]  # drop "Module" and "<Class>.forward.<n>"
    return ".".join(path[:2]) or "(model)"


@dataclass
class OpRow:
    call: str
    api: str
    stage: str
    op_class: str
    verdict: str
    score: float                  # worst output: its metric over its limit (> 1 misses the standard)
    standard: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    call_site: str = ""
    msprobe_result: str = ""      # the call's Result in msprobe's table (its worst row)


@dataclass
class DumpVerdict:
    rows: list[OpRow]
    msprobe_errors: list[str]     # calls msprobe's table marks "error"
    msprobe_rows: list[CompareRow]

    @property
    def passed(self) -> bool:
        return not any(row.verdict == FAIL for row in self.rows)

    @property
    def msprobe_passed(self) -> bool:
        return not self.msprobe_errors

    @property
    def first_divergent(self) -> OpRow | None:
        return next((row for row in self.rows if row.verdict == FAIL), None)

    def summary(self) -> str:
        counts = Counter(row.verdict for row in self.rows)
        text = (f"kit: {'PASS' if self.passed else 'FAIL'} ({len(self.rows)} calls: {counts.get(PASS, 0)} pass, "
                f"{counts.get(FAIL, 0)} fail, {counts.get(INHERITED, 0)} inherited, "
                f"{counts.get(UNMATCHED, 0)} unmatched)")
        first = self.first_divergent
        if first:
            text += f"; first divergent op {first.call} in {first.stage} at {first.call_site or '?'}"
        text += (f"; msprobe compare: {'PASS' if self.msprobe_passed else 'FAIL'} "
                 f"({len(self.msprobe_errors)} calls marked error"
                 + (f", first {self.msprobe_errors[0]}" if self.msprobe_errors else "") + ")")
        return text

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: an infinite or NaN score or metric is written as the text "inf" / "nan"."""
        first = self.first_divergent
        return {"passed": self.passed, "msprobe_passed": self.msprobe_passed, "summary": self.summary(),
                "first_divergent": _json_safe(asdict(first)) if first else None,
                "msprobe_errors": self.msprobe_errors, "rows": [_json_safe(asdict(row)) for row in self.rows]}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def _inputs_agree(device: MsprobeDump, golden: MsprobeDump, call: ApiCall, other: ApiCall) -> bool:
    if len(call.inputs) != len(other.inputs):
        return False
    for d, g in zip(call.inputs, other.inputs):
        if judge_tensor(device.tensor(d), golden.tensor(g), OpClass.COSINE).verdict != PASS:
            return False
    return True


def judge_call(device: MsprobeDump, golden: MsprobeDump, call: ApiCall, other: ApiCall | None) -> OpRow:
    op_class = op_class_of(call.api)
    row = OpRow(call.name, call.api, stage_of(call.module), op_class.value, UNMATCHED, 0.0,
                call_site=call.call_site)
    if other is None or len(other.outputs) != len(call.outputs):
        row.reason = "no call of this name in the golden dump" if other is None else "output count differs"
        return row
    judgements = [judge_tensor(device.tensor(d), golden.tensor(g), op_class)
                  for d, g in zip(call.outputs, other.outputs)]
    judged = worst(judgements)
    row.score, row.standard, row.metrics, row.reason = judged.score, judged.standard, judged.metrics, judged.reason
    if judged.verdict == PASS:
        row.verdict = PASS
    else:
        row.verdict = FAIL if _inputs_agree(device, golden, call, other) else INHERITED
    return row


def judge_dumps(device: MsprobeDump, golden: MsprobeDump, table: list[CompareRow]) -> DumpVerdict:
    """Judge every API call of ``device`` against ``golden``; merge msprobe's Result per call."""
    golden_calls = {call.name: call for call in golden.api_calls()}
    msprobe_result: dict[str, str] = {}
    rank = {"error": 3, "warning": 2, "pass": 1}
    for entry in table:
        if rank.get(entry.result, 0) >= rank.get(msprobe_result.get(entry.call, ""), 0):
            msprobe_result[entry.call] = entry.result
    rows = []
    for call in device.api_calls():
        row = judge_call(device, golden, call, golden_calls.get(call.name))
        row.msprobe_result = msprobe_result.get(call.name, "")
        rows.append(row)
    return DumpVerdict(rows, failing_calls(table), table)
