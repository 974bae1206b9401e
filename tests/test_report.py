import json
import linecache

import pytest
import torch

from npu_compat.report import SCHEMA, MigrationReport, is_internal_file


def test_call_sites_are_recorded_once_with_counts_and_correct_lines(shim_cpu, tmp_path):
    report = shim_cpu.report
    for _ in range(3):
        a = torch.zeros(2, device="cuda")  # SITE-A
    b = torch.ones(1).to("cuda:0")  # SITE-B
    assert a.device.type == "cpu" and b.device.type == "cpu"
    calls = [c for c in report.calls() if c["file"] == __file__]
    by_rule = {c["rule"]: c for c in calls}
    site_a, site_b = by_rule["device.torch.zeros"], by_rule["device.Tensor.to"]
    assert site_a["count"] == 3 and site_b["count"] == 1
    assert "SITE-A" in linecache.getline(__file__, site_a["line"])
    assert "SITE-B" in linecache.getline(__file__, site_b["line"])
    assert site_a["old"] == "cuda" and site_a["new"] == "cpu"
    assert site_a["category"] == "match" and site_a["function"].startswith("test_call_sites")

    out = report.write_json(tmp_path / "sub" / "report.json")
    data = json.loads(out.read_text())
    assert data["schema"] == SCHEMA and data["target"]["device"] == "cpu"
    assert {"file", "line", "source", "rule", "category", "old", "new", "count"} <= set(data["calls"][0])
    assert not list((tmp_path / "sub").glob("*.tmp"))  # atomic write leaves no temp file


def test_calls_from_inside_torch_are_not_reported(shim_cpu):
    model = torch.nn.Linear(2, 2)
    model.cuda()  # torch's Module internals then call Tensor methods: only this line may appear
    rules = {c["rule"] for c in shim_cpu.report.calls() if c["file"] == __file__}
    assert rules == {"device.Module.cuda"}
    assert all(not is_internal_file(c["file"]) for c in shim_cpu.report.calls())


def test_summary_lists_rules_and_counts(shim_cpu):
    torch.cuda.synchronize()
    text = shim_cpu.report.summary("r.json")
    assert text.splitlines()[0].startswith("npu_compat: target cpu;") and "report: r.json" in text
    assert any(line.strip().startswith("cuda.synchronize") for line in text.splitlines())


def test_untouched_calls_cost_no_record(shim_cpu):
    before = len(shim_cpu.report.sites)
    torch.zeros(2)
    torch.ones(2, device="cpu").to("cpu")
    assert len(shim_cpu.report.sites) == before


def test_report_is_empty_without_hits():
    assert MigrationReport().calls() == []


COMPILED_USER_CODE = '''\
import pytest
import torch


def helper(x):
    return x.cuda()  # HELPER_LINE


def f(x):
    y = torch.zeros(3, device="cuda")  # ZEROS_LINE
    return helper(x) + y
'''


@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow), "eager"])
def test_calls_inside_torch_compiled_code_are_reported_at_the_users_line(shim_cpu, tmp_path, monkeypatch, backend):
    """torch.compile traces the user's Python code: a redirected call there is recorded at the user's line
    (an inlined helper's own line too), never at the graph code the compiler generates."""
    import importlib

    import torch._dynamo

    name = f"compiled_user_code_{backend}"
    (tmp_path / f"{name}.py").write_text(COMPILED_USER_CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    user = importlib.import_module(name)
    lines = {tag: i for i, text in enumerate(COMPILED_USER_CODE.splitlines(), 1)
             for tag in ("HELPER_LINE", "ZEROS_LINE") if tag in text}
    torch._dynamo.reset()
    try:
        compiled = torch.compile(user.f, backend=backend)
        for _ in range(2):
            assert compiled(torch.ones(3)).tolist() == [1.0, 1.0, 1.0]
    finally:
        torch._dynamo.reset()
    calls = shim_cpu.report.calls()
    where = {(c["rule"], c["line"]) for c in calls if c["file"] == user.__file__}
    assert ("device.torch.zeros", lines["ZEROS_LINE"]) in where, calls
    assert ("device.Tensor.cuda", lines["HELPER_LINE"]) in where, calls
    assert not [c for c in calls if c["file"].startswith("<")], calls  # no generated frame
    zeros = next(c for c in calls if c["file"] == user.__file__ and c["rule"] == "device.torch.zeros")
    assert zeros["function"] == "f" and "torch.zeros" in zeros["source"]


def test_redirects_inside_torch_compile_trace_with_fullgraph(shim_cpu):
    """Code that dynamo traces (sam3 3.1's compile=True uses fullgraph=True) calls redirected APIs: the
    report cannot inspect frames there, so it records nothing inside the trace and the graph stays whole;
    the redirect itself still happens, and the eager call site is recorded as usual."""
    def step(x):
        return x + torch.zeros(2, device="cuda")  # a device-argument row

    x = torch.ones(2)
    compiled = torch.compile(step, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), step(x))
    sites = {(c["rule"], c["function"]) for c in shim_cpu.report.calls()}
    assert ("device.torch.zeros", "step") in sites, "the eager call is recorded"


COMPILED_AUTOCAST_QUERY = """
import sys, torch
import npu_compat
npu_compat.apply(device="cpu")
step = lambda x: x + (1.0 if torch.is_autocast_enabled(x.device.type) else 0.0)
print(torch.compile(step, backend="eager", fullgraph=True)(torch.ones(2)).tolist())
"""


def test_a_redirected_autocast_query_inside_a_fullgraph_trace():
    """dynamo is first imported under the shim, so its constant-fold table holds the shim's
    is_autocast_enabled; tracing through it reaches the original, which must fold too
    (npu_compat/dynamo_tables.py): without that, "torch.* op returned non-Tensor"."""
    from tests.conftest import run_python

    proc = run_python("-c", COMPILED_AUTOCAST_QUERY, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.strip().splitlines()[-1] == "[1.0, 1.0]", proc.stdout  # autocast off on the cpu: + 0.0
