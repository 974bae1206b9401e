import json
import math

from npu_compat.parity.replay import ReplayResult
from npu_compat.parity.report import replay_markdown, replay_summary, worst_first, write_replay_report


def _result(op, verdict, score):
    return ReplayResult(0, op, "float32[2]", "float32", 1, ["r"], "cosine", verdict, "std", score,
                        {"cosine": 0.5}, "why" if verdict != "pass" else "")


RESULTS = [_result("aten.a", "pass", 0.9), _result("aten.b", "fail", 3.0), _result("aten.c", "skipped", 0.0),
           _result("aten.d", "error", math.inf), _result("aten.e", "fail", 30.0), _result("aten.f", "pass", 0.1)]


def test_worst_first_order():
    assert [r.op for r in worst_first(RESULTS)] == ["aten.d", "aten.e", "aten.b", "aten.a", "aten.f", "aten.c"]


def test_summary_and_markdown_name_failing_ops(tmp_path):
    summary = replay_summary(RESULTS, "cpu", "as captured")
    assert summary.startswith("replay FAIL") and "aten.b, aten.d, aten.e" in summary
    assert "2 fail, 1 error, 1 skipped" in summary
    markdown = replay_markdown(RESULTS, summary, limit=3)
    lines = markdown.splitlines()
    assert lines[0] == f"**{summary}**"
    assert sum(line.startswith("| error") or line.startswith("| fail") for line in lines) == 3
    write_replay_report(RESULTS, summary, {"device": "cpu"}, tmp_path / "r.json", tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["results"][0]["op"] == "aten.d" and data["results"][0]["score"] == "inf"
    assert replay_summary(RESULTS[:1], "cpu", "x").startswith("replay PASS")
