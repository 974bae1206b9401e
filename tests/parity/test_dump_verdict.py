"""The kit's per-op-class standards on two msprobe dumps (toy model through the shim, cpu target)."""
import json
import math

import pytest

from npu_compat.parity.dump_verdict import INHERITED, DumpVerdict, OpRow, judge_dumps, op_class_of, stage_of
from npu_compat.parity.judge import FAIL, PASS
from npu_compat.parity.msprobe_compare import read_compare_table, run_msprobe_compare
from npu_compat.parity.msprobe_dump import MsprobeDump
from npu_compat.parity.standards import OpClass


def test_op_classes_of_msprobe_api_names():
    assert op_class_of("Functional.layer_norm") is OpClass.COSINE
    assert op_class_of("Torch.matmul") is OpClass.ULP and op_class_of("Functional.linear") is OpClass.ULP
    assert op_class_of("Functional.conv2d") is OpClass.CONV
    assert op_class_of("Tensor.__add__") is OpClass.ELEMENTWISE and op_class_of("Tensor.__truediv__") is OpClass.ELEMENTWISE
    assert op_class_of("Tensor.__getitem__") is OpClass.EXACT and op_class_of("Functional.relu") is OpClass.EXACT


def test_stage_is_the_module_two_levels_below_the_model():
    assert stage_of("Module.backbone.vision_backbone.trunk.blocks.0.Block.forward.0") == "backbone.vision_backbone"
    assert stage_of("Module.1.LayerNorm.forward.0") == "1"
    assert stage_of(None) == "(model)"


def _verdict(toy_dumps, tmp_path, name):
    pytest.importorskip("msprobe.pytorch", reason="msprobe is an optional extra: pip install -e '.[msprobe]'")
    device, golden = MsprobeDump.load(toy_dumps / name), MsprobeDump.load(toy_dumps / "golden")
    rows = read_compare_table(run_msprobe_compare(device.directory, golden.directory, tmp_path / name))
    return judge_dumps(device, golden, rows)


def test_clean_rerun_passes_the_kits_standards(toy_dumps, tmp_path):
    verdict = _verdict(toy_dumps, tmp_path, "clean")
    assert verdict.passed and verdict.msprobe_passed and verdict.first_divergent is None
    assert [row.verdict for row in verdict.rows] == [PASS] * len(verdict.rows) and len(verdict.rows) == 5


def test_planted_fault_fails_the_kit_and_msprobe_at_the_same_call(toy_dumps, tmp_path):
    verdict = _verdict(toy_dumps, tmp_path, "fault")
    assert not verdict.passed and not verdict.msprobe_passed
    first = verdict.first_divergent
    assert first.call == "Functional.layer_norm.0.forward" == verdict.msprobe_errors[0]
    assert first.op_class == "cosine" and first.score > 1 and first.msprobe_result == "error"
    assert "F.layer_norm(" in first.call_site
    by_call = {row.call: row for row in verdict.rows}
    assert by_call["Functional.linear.0.forward"].verdict == PASS       # before the fault
    assert by_call["Functional.linear.1.forward"].verdict == INHERITED  # after it: its input already differs
    assert sum(row.verdict == FAIL for row in verdict.rows) == 1
    assert "first divergent op Functional.layer_norm.0.forward" in verdict.summary()


def test_each_planted_fault_is_caught_by_both_at_its_own_call(toy_dumps, tmp_path):
    """softmax_wrong_dim, the other planted fault: the last call, so nothing after it is inherited."""
    verdict = _verdict(toy_dumps, tmp_path, "softmax_fault")
    assert verdict.first_divergent.call == "Functional.softmax.0.forward" == verdict.msprobe_errors[0]
    assert [row.verdict for row in verdict.rows] == [PASS] * 4 + [FAIL]


def test_verdict_json_is_strict_json_with_an_infinite_score():
    row = OpRow("Torch.sort.0.forward", "Torch.sort", "(model)", "bit-exact", FAIL, math.inf,
                metrics={"max_err_ratio": math.nan}, reason="shape (2,) vs golden (3,)")
    data = DumpVerdict([row], [], []).as_dict()
    text = json.dumps(data, allow_nan=False)  # raises on a bare Infinity/NaN
    assert json.loads(text)["first_divergent"]["score"] == "inf" and data["rows"][0]["metrics"]["max_err_ratio"] == "nan"
